//! Reading the audit log (`strata audit` and `GET /admin/api/audit`) and keeping it within
//! its retention.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use strata_core::Shutdown;
use strata_store::{AuditQuery, AuditRecord, Outcome, Store};

use crate::AppError;
use crate::keys::parse_time;

/// How often expired audit records are looked for.
const RETENTION_EVERY: Duration = Duration::from_secs(3600);

/// The filters both the CLI and the admin API take, as text.
#[derive(Debug, Clone, Default)]
pub struct AuditOptions {
    pub layer: Option<String>,
    pub principal: Option<String>,
    pub server: Option<String>,
    /// The tool, prompt, resource, model or workflow.
    pub target: Option<String>,
    /// The operation (`tools/call`, `auth`, `key.create`…).
    pub action: Option<String>,
    /// ok, denied or error.
    pub outcome: Option<String>,
    /// A date, RFC 3339 time, milliseconds, or an age (`1h`).
    pub since: Option<String>,
    pub until: Option<String>,
    /// At most this many records (default 100).
    pub limit: Option<i64>,
    /// The `id` of the last record of the previous page.
    pub before: Option<String>,
    /// `table` (default) or `jsonl`.
    pub format: Option<String>,
}

impl AuditOptions {
    /// The options named by a query string's parameters.
    #[must_use]
    pub fn from_params(mut q: HashMap<String, String>) -> Self {
        Self {
            layer: q.remove("layer"),
            principal: q.remove("principal"),
            server: q.remove("server"),
            target: q.remove("tool").or_else(|| q.remove("target")),
            action: q.remove("action"),
            outcome: q.remove("outcome"),
            since: q.remove("since"),
            until: q.remove("until"),
            limit: q.remove("limit").and_then(|l| l.parse().ok()),
            before: q.remove("before"),
            format: q.remove("format"),
        }
    }

    fn query(&self, now: i64) -> Result<AuditQuery, AppError> {
        let time = |t: &Option<String>| t.as_deref().map(|t| parse_time(t, now)).transpose();
        let outcome = self
            .outcome
            .as_deref()
            .map(|o| {
                Outcome::parse(o).map_err(|_| {
                    AppError::Invalid(format!("unknown outcome {o:?}: use ok, denied or error"))
                })
            })
            .transpose()?;
        Ok(AuditQuery {
            layer: self.layer.clone(),
            action: self.action.clone(),
            principal: self.principal.clone(),
            server: self.server.clone(),
            target: self.target.clone(),
            outcome,
            since_ms: time(&self.since)?,
            until_ms: time(&self.until)?,
            limit: self.limit.unwrap_or(100),
            before_id: self.before.clone(),
        })
    }
}

/// The records matching `options`, newest first, as JSON.
pub async fn records(store: &Store, options: &AuditOptions) -> Result<Value, AppError> {
    let query = options.query(strata_core::now_ms())?;
    let records = store.audit_records(&query).await?;
    let next = (i64::try_from(records.len()).ok() == Some(query.limit))
        .then(|| records.last().map(|r| r.id.clone()))
        .flatten();
    Ok(json!({ "records": records, "next_before": next }))
}

/// Runs `strata audit`: the records as a table, or one JSON object per line.
pub async fn audit(config: Option<&Path>, options: AuditOptions) -> Result<String, AppError> {
    let config = crate::serve::load_settings(config)?;
    let store = Store::connect(&config.storage).await?;
    let query = options.query(strata_core::now_ms());
    let found = match query {
        Ok(query) => store.audit_records(&query).await.map_err(AppError::from),
        Err(e) => Err(e),
    };
    store.close().await;
    let records = found?;
    match options.format.as_deref().unwrap_or("table") {
        "jsonl" => Ok(records.iter().map(|r| format!("{}\n", json!(r))).collect()),
        "table" => Ok(table(&records)),
        other => Err(AppError::Invalid(format!(
            "unknown format {other:?}: use table or jsonl"
        ))),
    }
}

fn table(records: &[AuditRecord]) -> String {
    let rows: Vec<[String; 8]> = records
        .iter()
        .map(|r| {
            let time = humantime::format_rfc3339_millis(
                std::time::UNIX_EPOCH
                    + Duration::from_millis(u64::try_from(r.ts_ms).unwrap_or_default()),
            );
            let text = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
            [
                time.to_string(),
                r.layer.clone(),
                r.action.clone(),
                text(&r.principal),
                text(&r.server),
                text(&r.target),
                r.outcome.as_str().to_string(),
                r.latency_ms.map_or_else(|| "-".into(), |l| l.to_string()),
            ]
        })
        .collect();
    let header = [
        "time",
        "layer",
        "action",
        "principal",
        "server",
        "target",
        "outcome",
        "ms",
    ];
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[&str]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        format!("{}\n", padded.join("  ").trim_end())
    };
    let mut out = line(&header);
    for row in &rows {
        out.push_str(&line(&row.iter().map(String::as_str).collect::<Vec<_>>()));
    }
    out
}

/// Deletes audit records older than `retention`, now and then every hour, until shutdown.
pub(crate) fn spawn_retention(store: Store, retention: Duration, shutdown: Shutdown) {
    tokio::spawn(async move {
        loop {
            let cutoff =
                strata_core::now_ms() - i64::try_from(retention.as_millis()).unwrap_or(i64::MAX);
            match store.delete_audit_before(cutoff).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(deleted = n, "expired audit records deleted"),
                Err(e) => tracing::warn!(error = %e, "expired audit records not deleted"),
            }
            tokio::select! {
                () = tokio::time::sleep(RETENTION_EVERY) => {}
                () = shutdown.token().cancelled() => return,
            }
        }
    });
}
