//! API keys created at run time and spend reports: shared by the admin API and the
//! `strata keys` / `strata spend` commands, which work on the store directly. A serving
//! process picks up keys created or revoked elsewhere within [`REFRESH`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};
use strata_config::{ApiKey, Budget, KeyLimits};
use strata_core::Secret;
use strata_policy::{KeyIdentity, StoredKeys};
use strata_store::{KeyRow, SpendGroup, SpendQuery, Store, StoreError};

use crate::AppError;

/// How often a serving process reloads the stored keys.
pub const REFRESH: Duration = Duration::from_secs(2);

/// What a new key is given.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    pub name: String,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub models: Vec<String>,
    #[serde(default)]
    pub team: Option<String>,
    #[serde(default)]
    pub budget: Option<Budget>,
    #[serde(default)]
    pub limits: Option<KeyLimits>,
    #[serde(default)]
    pub guardrails: Vec<String>,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
}

/// A fresh random key: `sk-strata-` and 40 characters of base62.
fn generate() -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut key = String::from("sk-strata-");
    for _ in 0..40 {
        let i = uuid::Uuid::new_v4().as_bytes()[0] as usize % ALPHABET.len();
        key.push(char::from(ALPHABET[i]));
    }
    key
}

/// Creates and stores a key; returns its row and the plain key (shown once, never stored).
pub async fn create(store: &Store, spec: NewKey) -> Result<(KeyRow, String), AppError> {
    if spec.name.trim().is_empty() {
        return Err(AppError::Invalid("a key needs a name".into()));
    }
    let plain = generate();
    let row = KeyRow {
        id: strata_core::new_id(),
        name: spec.name,
        digest: Secret::new(plain.clone()).sha256_hex(),
        prefix: plain.chars().take(14).collect(),
        roles: spec.roles,
        models: spec.models,
        team: spec.team,
        budget: spec.budget.map(|b| json!(b)),
        limits: spec.limits.map(|l| json!(l)),
        guardrails: spec.guardrails,
        metadata: json!(spec.metadata),
        created_ms: strata_core::now_ms(),
        revoked_ms: None,
    };
    store.create_key(&row).await?;
    Ok((row, plain))
}

/// A stored key as the policy sees it.
fn identity(row: &KeyRow) -> Result<KeyIdentity, StoreError> {
    let malformed = |what: &str, e: serde_json::Error| {
        StoreError::Malformed(format!("key `{}` {what}: {e}", row.name))
    };
    let spec = ApiKey {
        name: row.name.clone(),
        key: Secret::new(String::new()),
        roles: row.roles.clone(),
        budget: row
            .budget
            .clone()
            .map(serde_json::from_value)
            .transpose()
            .map_err(|e| malformed("budget", e))?,
        limits: row
            .limits
            .clone()
            .map(serde_json::from_value)
            .transpose()
            .map_err(|e| malformed("limits", e))?,
        models: row.models.clone(),
        team: row.team.clone(),
        guardrails: row.guardrails.clone(),
        metadata: serde_json::from_value(row.metadata.clone())
            .map_err(|e| malformed("metadata", e))?,
    };
    Ok(KeyIdentity::new(&spec))
}

/// Loads the live stored keys into `stored`.
pub async fn load(store: &Store, stored: &StoredKeys) -> Result<(), AppError> {
    let rows = store.keys().await?;
    let mut live = Vec::new();
    for row in rows.iter().filter(|r| r.revoked_ms.is_none()) {
        live.push((row.digest.clone(), identity(row)?));
    }
    stored.replace(live, rows.iter().any(|r| r.revoked_ms.is_some()));
    Ok(())
}

/// Reloads the stored keys every [`REFRESH`] until shutdown.
pub fn spawn_refresh(store: Store, stored: Arc<StoredKeys>, shutdown: strata_core::Shutdown) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(REFRESH);
        loop {
            tokio::select! {
                () = shutdown.token().cancelled() => return,
                _ = tick.tick() => {
                    if let Err(e) = load(&store, &stored).await {
                        tracing::warn!(error = %e, "reloading the stored API keys failed");
                    }
                }
            }
        }
    });
}

/// A key row for listings (never the digest or the key).
#[must_use]
pub fn shown(row: &KeyRow) -> Value {
    json!({
        "name": row.name, "prefix": row.prefix, "roles": row.roles, "models": row.models,
        "team": row.team, "budget": row.budget, "limits": row.limits,
        "guardrails": row.guardrails, "metadata": row.metadata,
        "created_ms": row.created_ms, "revoked_ms": row.revoked_ms,
        "status": if row.revoked_ms.is_some() { "revoked" } else { "active" },
    })
}

/// A time given as milliseconds, an RFC 3339 date (`2026-11-01`, `2026-11-01T12:00:00Z`),
/// or an age such as `7d` or `12h` (that long before now).
pub fn parse_time(text: &str, now_ms: i64) -> Result<i64, AppError> {
    if let Ok(ms) = text.parse::<i64>() {
        return Ok(ms);
    }
    if let Ok(age) = humantime::parse_duration(text) {
        return Ok(now_ms - i64::try_from(age.as_millis()).unwrap_or(i64::MAX));
    }
    let full = if text.len() == 10 {
        format!("{text}T00:00:00Z")
    } else {
        text.to_string()
    };
    humantime::parse_rfc3339_weak(&full)
        .map(|t| {
            t.duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        })
        .map_err(|_| {
            AppError::Invalid(format!(
                "cannot read the time {text:?}: use a date (2026-11-01), RFC 3339, milliseconds, or an age such as 7d"
            ))
        })
}

/// A spend report as JSON: one row per group, dollars and tokens.
pub async fn spend(store: &Store, query: &SpendQuery) -> Result<Value, AppError> {
    let rows = store.spend(query).await?;
    let total: i64 = rows.iter().map(|r| r.cost_micros).sum();
    Ok(json!({
        "group_by": query.group,
        "since_ms": query.since_ms,
        "until_ms": query.until_ms,
        "price_table": strata_ai::pricing::table_version(),
        "total_usd": strata_ai::pricing::usd(total),
        "rows": rows.iter().map(|r| json!({
            "group": r.group, "requests": r.requests, "input_tokens": r.input_tokens,
            "output_tokens": r.output_tokens, "cost_usd": strata_ai::pricing::usd(r.cost_micros),
        })).collect::<Vec<_>>(),
    }))
}

/// Parses `key|team|model|provider`.
pub fn parse_group(text: &str) -> Result<SpendGroup, AppError> {
    serde_json::from_value(Value::String(text.to_string())).map_err(|_| {
        AppError::Invalid(format!(
            "cannot group spend by {text:?}: use key, team, model or provider"
        ))
    })
}
