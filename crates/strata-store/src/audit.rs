//! The audit log: what happened, who did it, to what, and how it ended.

use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::batch::{insert_chunks, insert_sql, json_text};
use crate::{BatchRecord, Store, StoreError};

/// How an audited operation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Ok,
    Denied,
    Error,
}

impl Outcome {
    /// The stored name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Denied => "denied",
            Outcome::Error => "error",
        }
    }

    /// The outcome a stored name stands for.
    pub fn parse(text: &str) -> Result<Self, StoreError> {
        match text {
            "ok" => Ok(Outcome::Ok),
            "denied" => Ok(Outcome::Denied),
            "error" => Ok(Outcome::Error),
            other => Err(StoreError::Malformed(format!("audit outcome {other:?}"))),
        }
    }
}

/// One audit record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub id: String,
    pub ts_ms: i64,
    pub layer: String,
    pub action: String,
    pub principal: Option<String>,
    /// The virtual server (mcp layer records).
    pub server: Option<String>,
    pub target: Option<String>,
    pub outcome: Outcome,
    pub error: Option<String>,
    pub latency_ms: Option<i64>,
    pub trace_id: Option<String>,
    pub detail: serde_json::Value,
}

impl AuditRecord {
    /// A record stamped now with a fresh id.
    #[must_use]
    pub fn new(layer: &str, action: &str, outcome: Outcome) -> Self {
        Self {
            id: strata_core::new_id(),
            ts_ms: strata_core::now_ms(),
            layer: layer.into(),
            action: action.into(),
            principal: None,
            server: None,
            target: None,
            outcome,
            error: None,
            latency_ms: None,
            trace_id: None,
            detail: serde_json::Value::Object(serde_json::Map::new()),
        }
    }
}

const COLUMNS: usize = 12;
const INSERT_INTO: &str = "audit_log (id, ts_ms, layer, action, principal, server, \
    target, outcome, error, latency_ms, trace_id, detail) VALUES ";

impl BatchRecord for AuditRecord {
    const KIND: &'static str = "audit_log";

    async fn write_batch(tx: &mut sqlx::AnyConnection, batch: &[Self]) -> Result<(), sqlx::Error> {
        let numbered = tx.backend_name() != "SQLite";
        for chunk in insert_chunks(batch, COLUMNS) {
            // Built from column counts only: no input reaches the SQL text.
            let sql = sqlx::AssertSqlSafe(insert_sql(INSERT_INTO, COLUMNS, chunk.len(), numbered));
            let mut query = sqlx::query(sql);
            for r in chunk {
                query = query
                    .bind(r.id.clone())
                    .bind(r.ts_ms)
                    .bind(r.layer.clone())
                    .bind(r.action.clone())
                    .bind(r.principal.clone())
                    .bind(r.server.clone())
                    .bind(r.target.clone())
                    .bind(r.outcome.as_str())
                    .bind(r.error.clone())
                    .bind(r.latency_ms)
                    .bind(r.trace_id.clone())
                    .bind(json_text(&r.detail));
            }
            query.execute(&mut *tx).await?;
        }
        Ok(())
    }
}

/// Filters for reading the audit log, newest first. Every filter is an exact match.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub layer: Option<String>,
    pub action: Option<String>,
    pub principal: Option<String>,
    pub server: Option<String>,
    /// The tool, prompt, resource, model or workflow.
    pub target: Option<String>,
    pub outcome: Option<Outcome>,
    /// From this time on (inclusive).
    pub since_ms: Option<i64>,
    /// Before this time (exclusive).
    pub until_ms: Option<i64>,
    /// At most this many (100 when zero).
    pub limit: i64,
    /// Records older than the one with this id (the `id` of the last record of a page).
    pub before_id: Option<String>,
}

impl Store {
    /// Reads audit records matching `q`, newest first.
    pub async fn audit_records(&self, q: &AuditQuery) -> Result<Vec<AuditRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, ts_ms, layer, action, principal, server, target, outcome, error, \
             latency_ms, trace_id, detail FROM audit_log \
             WHERE ($1 IS NULL OR layer = $1) AND ($2 IS NULL OR action = $2) \
             AND ($3 IS NULL OR principal = $3) AND ($4 IS NULL OR server = $4) \
             AND ($5 IS NULL OR target = $5) AND ($6 IS NULL OR outcome = $6) \
             AND ts_ms >= $7 AND ts_ms < $8 AND ($9 IS NULL OR id < $9) \
             ORDER BY ts_ms DESC, id DESC LIMIT $10",
        )
        .bind(q.layer.as_deref())
        .bind(q.action.as_deref())
        .bind(q.principal.as_deref())
        .bind(q.server.as_deref())
        .bind(q.target.as_deref())
        .bind(q.outcome.map(Outcome::as_str))
        .bind(q.since_ms.unwrap_or(0))
        .bind(q.until_ms.unwrap_or(i64::MAX))
        .bind(q.before_id.as_deref())
        .bind(if q.limit > 0 { q.limit } else { 100 })
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(row_to_record).collect()
    }

    /// Deletes the audit records older than `before_ms`; returns how many.
    pub async fn delete_audit_before(&self, before_ms: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM audit_log WHERE ts_ms < $1")
            .bind(before_ms)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected())
    }

    /// How many audit records there are.
    pub async fn audit_count(&self) -> Result<i64, StoreError> {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM audit_log")
            .fetch_one(self.pool())
            .await?;
        Ok(n)
    }
}

fn row_to_record(row: &sqlx::any::AnyRow) -> Result<AuditRecord, StoreError> {
    let detail: String = row.try_get("detail")?;
    Ok(AuditRecord {
        id: row.try_get("id")?,
        ts_ms: row.try_get("ts_ms")?,
        layer: row.try_get("layer")?,
        action: row.try_get("action")?,
        principal: row.try_get("principal")?,
        server: row.try_get("server")?,
        target: row.try_get("target")?,
        outcome: Outcome::parse(&row.try_get::<String, _>("outcome")?)?,
        error: row.try_get("error")?,
        latency_ms: row.try_get("latency_ms")?,
        trace_id: row.try_get("trace_id")?,
        detail: serde_json::from_str(&detail)
            .map_err(|e| StoreError::Malformed(format!("audit detail: {e}")))?,
    })
}
