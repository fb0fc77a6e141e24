//! Time series for the console: model traffic per time bucket, and run counts by status.

use sqlx::Row;

use crate::{SpendGroup, Store, StoreError};

/// One time bucket of one group's model traffic.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesRow {
    /// The bucket's start (ms).
    pub t: i64,
    pub group: Option<String>,
    pub requests: i64,
    /// Calls answered with an error status.
    pub errors: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cost_micros: i64,
}

macro_rules! series_sql {
    ($column:literal) => {
        concat!(
            "SELECT (ts_ms / $2) * $2 AS t, ",
            $column,
            " AS grp, COUNT(*) AS requests, \
             CAST(COALESCE(SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END), 0) AS BIGINT) AS errors, \
             CAST(COALESCE(SUM(input_tokens), 0) AS BIGINT) AS input_tokens, \
             CAST(COALESCE(SUM(output_tokens), 0) AS BIGINT) AS output_tokens, \
             CAST(COALESCE(SUM(cost_micros), 0) AS BIGINT) AS cost_micros FROM usage_ledger \
             WHERE ts_ms >= $1 GROUP BY (ts_ms / $2) * $2, ",
            $column,
            " ORDER BY t, grp"
        )
    };
}

impl Store {
    /// Model traffic since `since_ms` in buckets of `bucket_ms`, per `group`.
    pub async fn usage_series(
        &self,
        since_ms: i64,
        bucket_ms: i64,
        group: SpendGroup,
    ) -> Result<Vec<SeriesRow>, StoreError> {
        let sql = match group {
            SpendGroup::Key => series_sql!("key_name"),
            SpendGroup::Team => series_sql!("team"),
            SpendGroup::Model => series_sql!("model"),
            SpendGroup::Provider => series_sql!("provider"),
        };
        let rows = sqlx::query(sql)
            .bind(since_ms)
            .bind(bucket_ms.max(1))
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| {
                Ok(SeriesRow {
                    t: r.try_get("t")?,
                    group: r.try_get("grp")?,
                    requests: r.try_get("requests")?,
                    errors: r.try_get("errors")?,
                    input_tokens: r.try_get("input_tokens")?,
                    output_tokens: r.try_get("output_tokens")?,
                    cost_micros: r.try_get("cost_micros")?,
                })
            })
            .collect()
    }

    /// How many runs have each status.
    pub async fn run_counts(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT status, COUNT(*) AS n FROM workflow_runs GROUP BY status ORDER BY status",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("status")?, r.try_get("n")?)))
            .collect()
    }
}
