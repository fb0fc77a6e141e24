-- A run's trace: its own id's, or (for the child run of an `agent`, `workflow` or `handoff`
-- step) its parent's, so a handoff's work is part of the run that handed off.
ALTER TABLE workflow_runs ADD COLUMN trace_id TEXT;
