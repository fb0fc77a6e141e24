//! `strata runs list|show|replay|cancel`: workflow runs, read from the configured store.

use std::path::Path;

use serde_json::json;
use strata_store::{RunQuery, Store};

use crate::AppError;

/// What `strata runs` was asked.
#[derive(Debug, Clone)]
pub enum RunsCommand {
    List {
        workflow: Option<String>,
        status: Option<String>,
        limit: i64,
    },
    Show {
        id: String,
    },
    Replay {
        id: String,
    },
    Cancel {
        id: String,
        reason: Option<String>,
    },
}

/// Runs the command against the store `config` names; returns the text to print and
/// whether it succeeded (a replay that did not reproduce the run fails).
pub async fn runs(config: Option<&Path>, command: RunsCommand) -> Result<(String, bool), AppError> {
    let config = crate::serve::load_settings(config)?;
    let store = Store::connect(&config.storage).await?;
    let result = match command {
        RunsCommand::List {
            workflow,
            status,
            limit,
        } => list(&store, workflow, status, limit).await,
        RunsCommand::Show { id } => show(&store, &id).await,
        RunsCommand::Replay { id } => replay(&store, &id).await,
        RunsCommand::Cancel { id, reason } => cancel(&store, &id, reason).await,
    };
    store.close().await;
    result
}

async fn list(
    store: &Store,
    workflow: Option<String>,
    status: Option<String>,
    limit: i64,
) -> Result<(String, bool), AppError> {
    let rows = store
        .runs(&RunQuery {
            workflow,
            status,
            limit,
            ..RunQuery::default()
        })
        .await?;
    let mut out = format!(
        "{:<36}  {:<16}  {:<10}  {:>9}  {}\n",
        "ID", "WORKFLOW", "STATUS", "TOOK (ms)", "PARENT"
    );
    for r in rows {
        let took = r.finished_ms.unwrap_or(r.updated_ms) - r.created_ms;
        out.push_str(&format!(
            "{:<36}  {:<16}  {:<10}  {:>9}  {}\n",
            r.id,
            r.workflow,
            r.status,
            took,
            r.parent_id.as_deref().unwrap_or("-")
        ));
    }
    Ok((out, true))
}

async fn show(store: &Store, id: &str) -> Result<(String, bool), AppError> {
    let Some(row) = store.run(id).await? else {
        return Ok((format!("no run {id}\n"), false));
    };
    let events = store.run_events(id, 0, i64::MAX).await?;
    Ok((strata_agent::view::tree(&row, &events), true))
}

async fn replay(store: &Store, id: &str) -> Result<(String, bool), AppError> {
    let replay = match strata_agent::replay::replay(store, id).await {
        Ok(r) => r,
        Err(e) => return Ok((format!("cannot replay {id}: {e}\n"), false)),
    };
    let mut out = format!(
        "replayed run {id}: {} events, {} step starts re-rendered, status {}\n",
        replay.events, replay.starts, replay.status
    );
    if replay.mismatches.is_empty() {
        out.push_str("reproduced: the same inputs, state, status and output\n");
    } else {
        for m in &replay.mismatches {
            out.push_str(&format!("mismatch: {m}\n"));
        }
    }
    Ok((out, replay.mismatches.is_empty()))
}

async fn cancel(
    store: &Store,
    id: &str,
    reason: Option<String>,
) -> Result<(String, bool), AppError> {
    let data =
        json!({ "reason": reason.unwrap_or_else(|| "cancelled with strata runs cancel".into()) });
    if store
        .push_inbox(id, "cancel", &data.to_string(), strata_core::now_ms())
        .await?
    {
        return Ok((format!("cancellation of run {id} requested\n"), true));
    }
    let text = match store.run(id).await? {
        Some(row) => format!("run {id} has already ended ({})\n", row.status),
        None => format!("no run {id}\n"),
    };
    Ok((text, false))
}
