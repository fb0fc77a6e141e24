//! `strata keys create|list|revoke` and `strata spend`, against the configured store.

use std::path::Path;

use serde_json::json;
use strata_store::{SpendQuery, Store};

use crate::AppError;
use crate::keys::{self, NewKey};

/// What `strata keys` was asked.
#[derive(Debug, Clone)]
pub enum KeysCommand {
    Create(NewKey),
    List,
    Revoke { name: String },
}

/// Runs `strata keys`; returns the text to print (JSON).
pub async fn keys(config: Option<&Path>, command: KeysCommand) -> Result<String, AppError> {
    let config = crate::serve::load_settings(config)?;
    let store = Store::connect(&config.storage).await?;
    let result = match command {
        KeysCommand::Create(spec) => keys::create(&store, spec).await.map(|(row, plain)| {
            let mut shown = keys::shown(&row);
            shown["key"] = json!(plain);
            shown["note"] = json!("the key is shown only now: store it safely");
            shown
        }),
        KeysCommand::List => store
            .keys()
            .await
            .map(|rows| json!({ "keys": rows.iter().map(keys::shown).collect::<Vec<_>>() }))
            .map_err(AppError::from),
        KeysCommand::Revoke { name } => {
            if store.revoke_key(&name, strata_core::now_ms()).await? {
                Ok(json!({ "name": name, "status": "revoked" }))
            } else {
                Err(AppError::Invalid(format!(
                    "no active stored key named `{name}` (keys from the config file are revoked by removing them there)"
                )))
            }
        }
    };
    store.close().await;
    Ok(format!("{:#}\n", result?))
}

/// What `strata spend` was asked.
#[derive(Debug, Clone)]
pub struct SpendOptions {
    /// key, team, model or provider.
    pub by: String,
    /// Start of the range (date, RFC 3339, milliseconds or an age such as `30d`).
    pub since: String,
    /// End of the range (default now).
    pub until: Option<String>,
    pub key: Option<String>,
    pub team: Option<String>,
}

/// Runs `strata spend`; returns the report (JSON).
pub async fn spend(config: Option<&Path>, options: SpendOptions) -> Result<String, AppError> {
    let config = crate::serve::load_settings(config)?;
    let now = strata_core::now_ms();
    let query = SpendQuery {
        group: keys::parse_group(&options.by)?,
        since_ms: keys::parse_time(&options.since, now)?,
        until_ms: match &options.until {
            Some(t) => keys::parse_time(t, now)?,
            None => now + 1,
        },
        key: options.key,
        team: options.team,
    };
    let store = Store::connect(&config.storage).await?;
    let report = keys::spend(&store, &query).await;
    store.close().await;
    Ok(format!("{:#}\n", report?))
}
