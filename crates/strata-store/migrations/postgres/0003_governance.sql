-- API keys created through the admin API or `strata keys create` (keys from the config file
-- are not stored). Only the SHA-256 digest of a key is kept; the plain key is shown once.
CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY,               -- UUID v7
    name        TEXT NOT NULL UNIQUE,
    digest      TEXT NOT NULL UNIQUE,           -- lowercase hex SHA-256 of the key
    prefix      TEXT NOT NULL,                  -- the key's first characters, to recognise it
    roles       TEXT NOT NULL DEFAULT '[]',     -- JSON array
    models      TEXT NOT NULL DEFAULT '[]',     -- JSON array of globs
    team        TEXT,
    budget      TEXT,                           -- JSON { usd, period }
    limits      TEXT,                           -- JSON { rpm, tpm, concurrent }
    guardrails  TEXT NOT NULL DEFAULT '[]',     -- JSON array of guardrail names
    metadata    TEXT NOT NULL DEFAULT '{}',     -- JSON object of tags
    created_ms  BIGINT NOT NULL,
    revoked_ms  BIGINT
);

-- The usage ledger: one record per model call served (or refused by policy), written in
-- batches off the hot path.
CREATE TABLE usage_ledger (
    id             TEXT PRIMARY KEY,            -- UUID v7
    ts_ms          BIGINT NOT NULL,
    key_name       TEXT,
    team           TEXT,
    operation      TEXT NOT NULL,               -- chat | embeddings
    model          TEXT NOT NULL,               -- as requested
    provider       TEXT,                        -- who served it
    served_model   TEXT,
    status         INTEGER NOT NULL,            -- HTTP status given to the client
    input_tokens   BIGINT NOT NULL DEFAULT 0,
    output_tokens  BIGINT NOT NULL DEFAULT 0,
    cached_tokens  BIGINT NOT NULL DEFAULT 0,
    cost_micros    BIGINT NOT NULL DEFAULT 0,   -- US dollars x 1e6
    latency_ms     BIGINT NOT NULL DEFAULT 0,
    cache          TEXT,                        -- hit | miss | NULL (not cacheable)
    guardrails     TEXT NOT NULL DEFAULT '[]',  -- JSON array of verdicts
    metadata       TEXT NOT NULL DEFAULT '{}',  -- the key's tags
    trace_id       TEXT
);
CREATE INDEX usage_ledger_ts ON usage_ledger (ts_ms);
CREATE INDEX usage_ledger_key_ts ON usage_ledger (key_name, ts_ms);
CREATE INDEX usage_ledger_team_ts ON usage_ledger (team, ts_ms);
