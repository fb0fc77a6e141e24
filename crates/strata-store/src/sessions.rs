//! Sessions (A2A `contextId`): a conversation that spans runs, with its messages in order and
//! a time to live. Runs name their session (`workflow_runs.session_id`); the run table keeps
//! them one at a time (see `create_run`).

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Store, StoreError};

/// A session as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionRow {
    pub id: String,
    pub principal: Option<String>,
    pub workflow: Option<String>,
    /// JSON.
    pub metadata: String,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub expires_ms: Option<i64>,
}

/// One message of a session's conversation.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageRow {
    pub seq: i64,
    pub run_id: Option<String>,
    /// `user` or `agent`.
    pub role: String,
    /// JSON.
    pub content: String,
    pub ts_ms: i64,
}

/// Every column of `agent_sessions`.
macro_rules! session_columns {
    () => {
        "id, principal, workflow, metadata, created_ms, updated_ms, expires_ms"
    };
}

impl Store {
    /// Creates a session; `false` when one with that id exists.
    pub async fn create_session(&self, s: &SessionRow) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "INSERT INTO agent_sessions (id, principal, workflow, metadata, created_ms, \
             updated_ms, expires_ms) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(&s.id)
        .bind(s.principal.as_deref())
        .bind(s.workflow.as_deref())
        .bind(&s.metadata)
        .bind(s.created_ms)
        .bind(s.updated_ms)
        .bind(s.expires_ms)
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// One session, unless it has expired (`now`).
    pub async fn session(&self, id: &str, now: i64) -> Result<Option<SessionRow>, StoreError> {
        let sql = concat!(
            "SELECT ",
            session_columns!(),
            " FROM agent_sessions WHERE id = $1 AND (expires_ms IS NULL OR expires_ms > $2)"
        );
        let row = sqlx::query(sql)
            .bind(id)
            .bind(now)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(session_row).transpose()
    }

    /// A principal's live sessions, most recently used first; `before` (the last of the
    /// previous page: its `updated_ms` and id) pages.
    pub async fn sessions(
        &self,
        principal: Option<&str>,
        before: Option<(i64, &str)>,
        limit: i64,
        now: i64,
    ) -> Result<Vec<SessionRow>, StoreError> {
        let sql = concat!(
            "SELECT ",
            session_columns!(),
            " FROM agent_sessions WHERE (($1 IS NULL AND principal IS NULL) OR principal = $1) \
             AND (updated_ms < $2 OR (updated_ms = $2 AND id < $5)) \
             AND (expires_ms IS NULL OR expires_ms > $3) ORDER BY updated_ms DESC, id DESC LIMIT $4"
        );
        let rows = sqlx::query(sql)
            .bind(principal)
            .bind(before.map_or(i64::MAX, |b| b.0))
            .bind(now)
            .bind(limit)
            .bind(before.map_or("", |b| b.1))
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(session_row).collect()
    }

    /// Marks a session used: it lives `ttl_ms` from now (`None`: keeps its expiry).
    pub async fn touch_session(
        &self,
        id: &str,
        now: i64,
        ttl_ms: Option<i64>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE agent_sessions SET updated_ms = $1, \
             expires_ms = CASE WHEN $2 IS NULL THEN expires_ms ELSE $1 + $2 END WHERE id = $3",
        )
        .bind(now)
        .bind(ttl_ms)
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Deletes a session and its messages; `false` when there was none.
    pub async fn delete_session(&self, id: &str) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin().await?;
        sqlx::query("DELETE FROM session_messages WHERE session_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let n = sqlx::query("DELETE FROM agent_sessions WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(n == 1)
    }

    /// Deletes every session whose time to live has passed, with its messages.
    pub async fn expire_sessions(&self, now: i64) -> Result<u64, StoreError> {
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "DELETE FROM session_messages WHERE session_id IN \
             (SELECT id FROM agent_sessions WHERE expires_ms IS NOT NULL AND expires_ms <= $1)",
        )
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let n = sqlx::query(
            "DELETE FROM agent_sessions WHERE expires_ms IS NOT NULL AND expires_ms <= $1",
        )
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(n)
    }

    /// Appends a message to a session's conversation; returns its sequence number.
    pub async fn append_message(
        &self,
        session_id: &str,
        run_id: Option<&str>,
        role: &str,
        content: &str,
        now: i64,
    ) -> Result<i64, StoreError> {
        // Runs of a session are serialized, so appends rarely race; a lost race retries.
        let mut tries = 0;
        loop {
            let inserted = sqlx::query(
                "INSERT INTO session_messages (session_id, seq, run_id, role, content, ts_ms) \
                 SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3, $4, $5 FROM session_messages \
                 WHERE session_id = $1 ON CONFLICT (session_id, seq) DO NOTHING RETURNING seq",
            )
            .bind(session_id)
            .bind(run_id)
            .bind(role)
            .bind(content)
            .bind(now)
            .fetch_optional(self.pool())
            .await?;
            if let Some(row) = inserted {
                return Ok(row.try_get(0)?);
            }
            tries += 1;
            if tries > 16 {
                return Err(StoreError::Conflict(format!(
                    "session {session_id}: could not append a message"
                )));
            }
        }
    }

    /// A session's messages in order (only those of `run_id` when given).
    pub async fn messages(
        &self,
        session_id: &str,
        run_id: Option<&str>,
    ) -> Result<Vec<MessageRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, run_id, role, content, ts_ms FROM session_messages \
             WHERE session_id = $1 AND ($2 IS NULL OR run_id = $2) ORDER BY seq",
        )
        .bind(session_id)
        .bind(run_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(MessageRow {
                    seq: r.try_get(0)?,
                    run_id: r.try_get(1)?,
                    role: r.try_get(2)?,
                    content: r.try_get(3)?,
                    ts_ms: r.try_get(4)?,
                })
            })
            .collect()
    }
}

fn session_row(r: &AnyRow) -> Result<SessionRow, StoreError> {
    Ok(SessionRow {
        id: r.try_get("id")?,
        principal: r.try_get("principal")?,
        workflow: r.try_get("workflow")?,
        metadata: r.try_get("metadata")?,
        created_ms: r.try_get("created_ms")?,
        updated_ms: r.try_get("updated_ms")?,
        expires_ms: r.try_get("expires_ms")?,
    })
}

impl Store {
    /// Records that `principal` created task `task_id` of remote agent `agent` through the
    /// proxy (the first to claim it keeps it).
    pub async fn claim_proxy_task(
        &self,
        agent: &str,
        task_id: &str,
        principal: Option<&str>,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO a2a_proxy_tasks (agent, task_id, principal, created_ms) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (agent, task_id) DO NOTHING",
        )
        .bind(agent)
        .bind(task_id)
        .bind(principal)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Who created task `task_id` of `agent` through the proxy: `None` when nobody did,
    /// `Some(None)` when it was created without credentials.
    pub async fn proxy_task_owner(
        &self,
        agent: &str,
        task_id: &str,
    ) -> Result<Option<Option<String>>, StoreError> {
        let row =
            sqlx::query("SELECT principal FROM a2a_proxy_tasks WHERE agent = $1 AND task_id = $2")
                .bind(agent)
                .bind(task_id)
                .fetch_optional(self.pool())
                .await?;
        row.map(|r| r.try_get(0).map_err(StoreError::from))
            .transpose()
    }
}
