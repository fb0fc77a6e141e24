-- The audit log: one durable record per operation and auth event, in every layer.
CREATE TABLE audit_log (
    id          TEXT PRIMARY KEY,       -- UUID v7: unique and time-ordered
    ts_ms       BIGINT NOT NULL,        -- milliseconds since the Unix epoch
    layer       TEXT NOT NULL,          -- ai | mcp | agent | admin | system
    action      TEXT NOT NULL,          -- e.g. tools/call, config.reload, server.start
    principal   TEXT,
    target      TEXT,                   -- model, server/tool, workflow, file
    outcome     TEXT NOT NULL,          -- ok | denied | error
    error       TEXT,
    latency_ms  BIGINT,
    trace_id    TEXT,
    detail      TEXT NOT NULL DEFAULT '{}'  -- JSON
);
CREATE INDEX audit_log_ts ON audit_log (ts_ms);
CREATE INDEX audit_log_principal_ts ON audit_log (principal, ts_ms);
