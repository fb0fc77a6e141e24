//! API keys created at run time (admin API, `strata keys`). Only digests are stored.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::Row;

use crate::{Store, StoreError};

/// A stored API key (without the key itself: only its digest and first characters).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyRow {
    pub id: String,
    pub name: String,
    /// Lowercase hex SHA-256 of the key.
    #[serde(skip_serializing)]
    pub digest: String,
    /// The key's first characters, to recognise it in listings.
    pub prefix: String,
    pub roles: Vec<String>,
    pub models: Vec<String>,
    pub team: Option<String>,
    /// `{ usd, period }` as in the config.
    pub budget: Option<Value>,
    /// `{ rpm, tpm, concurrent }` as in the config.
    pub limits: Option<Value>,
    pub guardrails: Vec<String>,
    pub metadata: Value,
    pub created_ms: i64,
    pub revoked_ms: Option<i64>,
}

macro_rules! select_keys {
    ($tail:literal) => {
        concat!(
            "SELECT id, name, digest, prefix, roles, models, team, budget, limits, guardrails, \
             metadata, created_ms, revoked_ms FROM api_keys ",
            $tail
        )
    };
}

impl Store {
    /// Stores a new key. A name already in use (revoked or not) is refused.
    pub async fn create_key(&self, key: &KeyRow) -> Result<(), StoreError> {
        let result = sqlx::query(
            "INSERT INTO api_keys (id, name, digest, prefix, roles, models, team, budget, limits, \
             guardrails, metadata, created_ms, revoked_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(&key.id)
        .bind(&key.name)
        .bind(&key.digest)
        .bind(&key.prefix)
        .bind(json(&key.roles))
        .bind(json(&key.models))
        .bind(key.team.as_deref())
        .bind(key.budget.as_ref().map(Value::to_string))
        .bind(key.limits.as_ref().map(Value::to_string))
        .bind(json(&key.guardrails))
        .bind(key.metadata.to_string())
        .bind(key.created_ms)
        .bind(key.revoked_ms)
        .execute(self.pool())
        .await;
        match result {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(StoreError::Conflict(
                format!("a key named `{}` exists", key.name),
            )),
            Err(e) => Err(e.into()),
        }
    }

    /// Every stored key, revoked ones included, oldest first.
    pub async fn keys(&self) -> Result<Vec<KeyRow>, StoreError> {
        let rows = sqlx::query(select_keys!("ORDER BY created_ms, id"))
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(row_to_key).collect()
    }

    /// The stored key with this name.
    pub async fn key(&self, name: &str) -> Result<Option<KeyRow>, StoreError> {
        let row = sqlx::query(select_keys!("WHERE name = $1"))
            .bind(name)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(row_to_key).transpose()
    }

    /// Revokes a key by name; `false` when there is no such key or it was revoked already.
    pub async fn revoke_key(&self, name: &str, now_ms: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE api_keys SET revoked_ms = $1 WHERE name = $2 AND revoked_ms IS NULL",
        )
        .bind(now_ms)
        .bind(name)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }
}

/// A list column's JSON text.
fn json(list: &[String]) -> String {
    Value::from(list.to_vec()).to_string()
}

fn row_to_key(row: &sqlx::any::AnyRow) -> Result<KeyRow, StoreError> {
    let parse = |column: &str| -> Result<Value, StoreError> {
        let text: String = row.try_get(column)?;
        serde_json::from_str(&text)
            .map_err(|e| StoreError::Malformed(format!("api_keys.{column}: {e}")))
    };
    let optional = |column: &str| -> Result<Option<Value>, StoreError> {
        let text: Option<String> = row.try_get(column)?;
        text.map(|t| {
            serde_json::from_str(&t)
                .map_err(|e| StoreError::Malformed(format!("api_keys.{column}: {e}")))
        })
        .transpose()
    };
    let strings = |column: &str| -> Result<Vec<String>, StoreError> {
        serde_json::from_value(parse(column)?)
            .map_err(|e| StoreError::Malformed(format!("api_keys.{column}: {e}")))
    };
    Ok(KeyRow {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        digest: row.try_get("digest")?,
        prefix: row.try_get("prefix")?,
        roles: strings("roles")?,
        models: strings("models")?,
        team: row.try_get("team")?,
        budget: optional("budget")?,
        limits: optional("limits")?,
        guardrails: strings("guardrails")?,
        metadata: parse("metadata")?,
        created_ms: row.try_get("created_ms")?,
        revoked_ms: row.try_get("revoked_ms")?,
    })
}
