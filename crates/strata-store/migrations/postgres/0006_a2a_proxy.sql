-- Tasks of remote A2A agents created through the gateway's proxy, and whose they are: the
-- gateway speaks to the agent with one credential, so it keeps callers apart itself.
CREATE TABLE a2a_proxy_tasks (
    agent       TEXT NOT NULL,
    task_id     TEXT NOT NULL,
    principal   TEXT,
    created_ms  BIGINT NOT NULL,
    PRIMARY KEY (agent, task_id)
);
