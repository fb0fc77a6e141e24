//! The usage ledger: tokens and cost of every model call, and spend reports over it.

use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::batch::{insert_chunks, insert_sql, json_text};
use crate::{BatchRecord, Store, StoreError};

/// One model call's usage. Its JSON form is the spool's line: fields that are `None` are left
/// out (a missing field reads back as `None`), which spares a string to escape per field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsageRecord {
    pub id: String,
    pub ts_ms: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    /// `chat` or `embeddings`.
    pub operation: String,
    /// The model as requested.
    pub model: String,
    /// Who served it (none when the call was refused or failed everywhere).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub served_model: Option<String>,
    /// The HTTP status the client got.
    pub status: u16,
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// Input tokens read from the provider's prompt cache (part of `input_tokens`).
    pub cached_tokens: u64,
    /// US dollars × 1e6.
    pub cost_micros: i64,
    pub latency_ms: u64,
    /// `hit` or `miss` when the response cache was consulted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache: Option<String>,
    /// Guardrail verdicts (JSON array).
    pub guardrails: serde_json::Value,
    /// The key's tags.
    pub metadata: serde_json::Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
}

const COLUMNS: usize = 18;
const INSERT_INTO: &str = "usage_ledger (id, ts_ms, key_name, team, operation, \
    model, provider, served_model, status, input_tokens, output_tokens, cached_tokens, \
    cost_micros, latency_ms, cache, guardrails, metadata, trace_id) VALUES ";

/// Counts as stored: SQL integers are signed.
fn int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl BatchRecord for UsageRecord {
    const KIND: &'static str = "usage_ledger";

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
                    .bind(r.key_name.as_deref())
                    .bind(r.team.as_deref())
                    .bind(&r.operation)
                    .bind(&r.model)
                    .bind(r.provider.as_deref())
                    .bind(r.served_model.as_deref())
                    .bind(i32::from(r.status))
                    .bind(int(r.input_tokens))
                    .bind(int(r.output_tokens))
                    .bind(int(r.cached_tokens))
                    .bind(r.cost_micros)
                    .bind(int(r.latency_ms))
                    .bind(r.cache.as_deref())
                    .bind(json_text(&r.guardrails))
                    .bind(json_text(&r.metadata))
                    .bind(r.trace_id.clone());
            }
            query.execute(&mut *tx).await?;
        }
        Ok(())
    }
}

/// What spend is grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SpendGroup {
    Key,
    Team,
    Model,
    Provider,
}

/// A spend report's filters: `[since_ms, until_ms)`, optionally one key or team.
#[derive(Debug, Clone)]
pub struct SpendQuery {
    pub group: SpendGroup,
    pub since_ms: i64,
    pub until_ms: i64,
    pub key: Option<String>,
    pub team: Option<String>,
}

/// One line of a spend report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpendRow {
    /// The key, team, model or provider (`None`: calls without one, e.g. an open gateway).
    pub group: Option<String>,
    pub requests: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cost_micros: i64,
}

macro_rules! spend_sql {
    ($column:literal) => {
        concat!(
            "SELECT ",
            $column,
            " AS grp, COUNT(*) AS requests, CAST(COALESCE(SUM(input_tokens), 0) AS BIGINT) AS input_tokens, \
             CAST(COALESCE(SUM(output_tokens), 0) AS BIGINT) AS output_tokens, \
             CAST(COALESCE(SUM(cost_micros), 0) AS BIGINT) AS cost_micros FROM usage_ledger \
             WHERE ts_ms >= $1 AND ts_ms < $2 AND ($3 IS NULL OR key_name = $3) \
             AND ($4 IS NULL OR team = $4) GROUP BY ",
            $column,
            " ORDER BY cost_micros DESC, grp"
        )
    };
}

impl Store {
    /// Spend over a time range, grouped.
    pub async fn spend(&self, q: &SpendQuery) -> Result<Vec<SpendRow>, StoreError> {
        let sql = match q.group {
            SpendGroup::Key => spend_sql!("key_name"),
            SpendGroup::Team => spend_sql!("team"),
            SpendGroup::Model => spend_sql!("model"),
            SpendGroup::Provider => spend_sql!("provider"),
        };
        let rows = sqlx::query(sql)
            .bind(q.since_ms)
            .bind(q.until_ms)
            .bind(q.key.as_deref())
            .bind(q.team.as_deref())
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|row| {
                Ok(SpendRow {
                    group: row.try_get("grp")?,
                    requests: row.try_get("requests")?,
                    input_tokens: row.try_get("input_tokens")?,
                    output_tokens: row.try_get("output_tokens")?,
                    cost_micros: row.try_get("cost_micros")?,
                })
            })
            .collect()
    }

    /// What a key (or a team, with `team = true`) has spent since `since_ms`, in micro-USD:
    /// where a budget's counter starts when a process first meets it.
    pub async fn spent_micros(
        &self,
        name: &str,
        team: bool,
        since_ms: i64,
    ) -> Result<i64, StoreError> {
        let sql = if team {
            "SELECT CAST(COALESCE(SUM(cost_micros), 0) AS BIGINT) AS spent FROM usage_ledger \
             WHERE team = $1 AND ts_ms >= $2"
        } else {
            "SELECT CAST(COALESCE(SUM(cost_micros), 0) AS BIGINT) AS spent FROM usage_ledger \
             WHERE key_name = $1 AND ts_ms >= $2"
        };
        let row = sqlx::query(sql)
            .bind(name)
            .bind(since_ms)
            .fetch_one(self.pool())
            .await?;
        Ok(row.try_get("spent")?)
    }

    /// The newest usage records since `since_ms`, newest first.
    pub async fn usage_records(
        &self,
        since_ms: i64,
        limit: i64,
    ) -> Result<Vec<UsageRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, ts_ms, key_name, team, operation, model, provider, served_model, status, \
             input_tokens, output_tokens, cached_tokens, cost_micros, latency_ms, cache, \
             guardrails, metadata, trace_id FROM usage_ledger WHERE ts_ms >= $1 \
             ORDER BY ts_ms DESC, id DESC LIMIT $2",
        )
        .bind(since_ms)
        .bind(if limit > 0 { limit } else { 100 })
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(row_to_usage).collect()
    }

    /// How many usage records there are (tests, `strata doctor`).
    pub async fn usage_count(&self) -> Result<i64, StoreError> {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM usage_ledger")
            .fetch_one(self.pool())
            .await?;
        Ok(n)
    }
}

fn row_to_usage(row: &sqlx::any::AnyRow) -> Result<UsageRecord, StoreError> {
    let count = |column: &str| -> Result<u64, StoreError> {
        Ok(u64::try_from(row.try_get::<i64, _>(column)?).unwrap_or(0))
    };
    let json = |column: &str| -> Result<serde_json::Value, StoreError> {
        let text: String = row.try_get(column)?;
        serde_json::from_str(&text)
            .map_err(|e| StoreError::Malformed(format!("usage_ledger.{column}: {e}")))
    };
    Ok(UsageRecord {
        id: row.try_get("id")?,
        ts_ms: row.try_get("ts_ms")?,
        key_name: row.try_get("key_name")?,
        team: row.try_get("team")?,
        operation: row.try_get("operation")?,
        model: row.try_get("model")?,
        provider: row.try_get("provider")?,
        served_model: row.try_get("served_model")?,
        status: u16::try_from(row.try_get::<i32, _>("status")?).unwrap_or(0),
        input_tokens: count("input_tokens")?,
        output_tokens: count("output_tokens")?,
        cached_tokens: count("cached_tokens")?,
        cost_micros: row.try_get("cost_micros")?,
        latency_ms: count("latency_ms")?,
        cache: row.try_get("cache")?,
        guardrails: json("guardrails")?,
        metadata: json("metadata")?,
        trace_id: row.try_get("trace_id")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn spool_lines_leave_out_absent_fields_and_read_back_whole() {
        let mut record = UsageRecord {
            id: "u1".into(),
            ts_ms: 1,
            key_name: None,
            team: None,
            operation: "chat".into(),
            model: "m".into(),
            provider: None,
            served_model: None,
            status: 200,
            input_tokens: 1,
            output_tokens: 2,
            cached_tokens: 0,
            cost_micros: 3,
            latency_ms: 4,
            cache: None,
            guardrails: json!([]),
            metadata: json!({}),
            trace_id: None,
        };
        let line = serde_json::to_string(&record).unwrap();
        for absent in [
            "key_name",
            "team",
            "provider",
            "served_model",
            "cache",
            "trace_id",
        ] {
            assert!(!line.contains(&format!("\"{absent}\"")), "{line}");
        }
        assert_eq!(serde_json::from_str::<UsageRecord>(&line).unwrap(), record);
        // Lines written with explicit nulls (before they were left out) still read back.
        let nulls = line.replacen('{', r#"{"key_name":null,"trace_id":null,"#, 1);
        assert_eq!(serde_json::from_str::<UsageRecord>(&nulls).unwrap(), record);
        record.key_name = Some("k".into());
        record.trace_id = Some("t".into());
        let line = serde_json::to_string(&record).unwrap();
        assert_eq!(serde_json::from_str::<UsageRecord>(&line).unwrap(), record);
    }
}
