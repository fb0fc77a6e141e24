-- The mcp layer's audit records name their virtual server; `strata audit --server` filters on it.
ALTER TABLE audit_log ADD COLUMN server TEXT;
CREATE INDEX audit_log_server_ts ON audit_log (server, ts_ms);
