-- Workflow runs: one row per run, with the lease that says which process executes it.
CREATE TABLE workflow_runs (
    id           TEXT PRIMARY KEY,
    workflow     TEXT NOT NULL,
    definition   TEXT NOT NULL,          -- the workflow as it was when the run started (JSON)
    status       TEXT NOT NULL,          -- running | waiting | succeeded | failed | cancelled
    input        TEXT NOT NULL,          -- JSON
    state        TEXT NOT NULL,          -- JSON, as of the last journaled event
    output       TEXT,                   -- JSON
    error        TEXT,                   -- JSON { class, message }
    principal    TEXT,
    parent_id    TEXT,                   -- the run whose step started this one
    parent_task  TEXT,
    forked_from  TEXT,
    seq          BIGINT NOT NULL,        -- the last journal sequence number
    owner        TEXT,                   -- the process executing the run
    lease_until  BIGINT,                 -- ms; another process may take over after it
    wake_at      BIGINT,                 -- ms; claimable from then (NULL: waits for a signal)
    deadline     BIGINT,                 -- ms; the run times out then
    created_ms   BIGINT NOT NULL,
    updated_ms   BIGINT NOT NULL,
    finished_ms  BIGINT
);
CREATE INDEX workflow_runs_wake ON workflow_runs (wake_at);
CREATE INDEX workflow_runs_created ON workflow_runs (created_ms);
CREATE INDEX workflow_runs_workflow ON workflow_runs (workflow, created_ms);
CREATE INDEX workflow_runs_owner ON workflow_runs (owner);

-- The journal: every event of a run in order (step attempts with their input, output or
-- error, timings and calls). It is also the run's event stream (SSE ids are `seq`).
CREATE TABLE workflow_events (
    run_id  TEXT NOT NULL,
    seq     BIGINT NOT NULL,
    ts_ms   BIGINT NOT NULL,
    kind    TEXT NOT NULL,
    task    TEXT,
    data    TEXT NOT NULL,                -- JSON
    PRIMARY KEY (run_id, seq)
);

-- What others tell a run (signals, cancellation, a child run's end), until its executor
-- journals it.
CREATE TABLE workflow_inbox (
    id          TEXT PRIMARY KEY,        -- UUID v7: time-ordered
    run_id      TEXT NOT NULL,
    kind        TEXT NOT NULL,
    data        TEXT NOT NULL,           -- JSON
    created_ms  BIGINT NOT NULL
);
CREATE INDEX workflow_inbox_run ON workflow_inbox (run_id, id);
