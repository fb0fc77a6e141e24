-- Sessions (A2A `contextId`): a conversation across runs. Runs of one session are serialized.
CREATE TABLE agent_sessions (
    id          TEXT PRIMARY KEY,
    principal   TEXT,                    -- who owns it; only they see it
    workflow    TEXT,                    -- the workflow it was opened with, if any
    metadata    TEXT NOT NULL,           -- JSON
    created_ms  BIGINT NOT NULL,
    updated_ms  BIGINT NOT NULL,
    expires_ms  BIGINT                   -- ms; deleted with its messages after it (NULL: never)
);
CREATE INDEX agent_sessions_principal ON agent_sessions (principal, updated_ms);
CREATE INDEX agent_sessions_expires ON agent_sessions (expires_ms);

-- The session's conversation: every message in and out, in order, with the run it belongs to.
CREATE TABLE session_messages (
    session_id  TEXT NOT NULL,
    seq         BIGINT NOT NULL,
    run_id      TEXT,
    role        TEXT NOT NULL,           -- user | agent
    content     TEXT NOT NULL,           -- JSON: the A2A message (parts, ids, metadata)
    ts_ms       BIGINT NOT NULL,
    PRIMARY KEY (session_id, seq)
);
CREATE INDEX session_messages_run ON session_messages (run_id, seq);

ALTER TABLE workflow_runs ADD COLUMN session_id TEXT;
CREATE INDEX workflow_runs_session ON workflow_runs (session_id, created_ms);
CREATE INDEX workflow_runs_principal ON workflow_runs (principal, updated_ms);
