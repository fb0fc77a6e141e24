//! Replaying a run from its journal without calling anything: the fold is rebuilt event by
//! event, and at every step start the input the definition renders now must equal the input
//! journaled then (choices included); at the end the state, status and output must equal
//! what the run stored.

use std::sync::Arc;

use serde_json::Value;
use strata_config::Workflow;
use strata_store::Store;

use crate::engine::event::Event;
use crate::engine::fold::{Fold, Phase};
use crate::engine::{EngineError, input, run_meta};

/// What a replay found.
#[derive(Debug, Clone, PartialEq)]
pub struct Replay {
    pub events: usize,
    /// Step starts whose input was rendered again and compared.
    pub starts: usize,
    pub status: String,
    pub state: Value,
    /// Every difference between the replay and the record; empty when it reproduced.
    pub mismatches: Vec<String>,
}

/// Replays run `id` from the store.
pub async fn replay(store: &Store, id: &str) -> Result<Replay, EngineError> {
    let row = store
        .run(id)
        .await?
        .ok_or_else(|| EngineError::UnknownRun(id.to_string()))?;
    let bad = |what: &str, e: serde_json::Error| EngineError::Conflict(format!("{what}: {e}"));
    let def: Workflow = serde_json::from_str(&row.definition).map_err(|e| bad("definition", e))?;
    let input: Value = serde_json::from_str(&row.input).map_err(|e| bad("input", e))?;
    let mut fold = Fold::new(Arc::new(def), input, run_meta(id, &row.workflow));
    let rows = store.run_events(id, 0, i64::MAX).await?;
    let mut out = Replay {
        events: rows.len(),
        starts: 0,
        status: String::new(),
        state: Value::Null,
        mismatches: Vec::new(),
    };
    for row in &rows {
        let event: Event = serde_json::from_str(&row.data).map_err(|e| bad("event", e))?;
        if let Event::StepStarted {
            task,
            attempt,
            input: journaled,
            ..
        } = &event
        {
            check_start(&fold, task, *attempt, journaled, row.seq, &mut out);
        }
        if let Err(e) = fold.apply(&event) {
            out.mismatches.push(format!("event {}: {e}", row.seq));
            break;
        }
    }
    let stored_state: Value = serde_json::from_str(&row.state).unwrap_or(Value::Null);
    out.state = Value::Object(fold.state.clone());
    if out.state != stored_state {
        out.mismatches.push(format!(
            "state: replayed {} but the run stored {stored_state}",
            out.state
        ));
    }
    out.status = fold.status.as_str().to_string();
    let stored_status = row.status.as_str();
    let same_status = match fold.status.is_terminal() {
        true => out.status == stored_status,
        false => matches!(stored_status, "pending" | "running" | "waiting"),
    };
    if !same_status {
        out.mismatches.push(format!(
            "status: replayed {} but the run is {stored_status}",
            out.status
        ));
    }
    if fold.status.is_terminal() {
        let stored: Value = row
            .output
            .as_deref()
            .and_then(|o| serde_json::from_str(o).ok())
            .unwrap_or(Value::Null);
        let replayed = fold.output.clone().unwrap_or(Value::Null);
        if stored != replayed {
            out.mismatches.push(format!(
                "output: replayed {replayed} but the run stored {stored}"
            ));
        }
    }
    Ok(out)
}

fn check_start(
    fold: &Fold,
    task: &str,
    attempt: u32,
    journaled: &Value,
    seq: i64,
    out: &mut Replay,
) {
    let Some(live) = fold.tasks.get(task) else {
        out.mismatches.push(format!(
            "event {seq}: {task} started but the workflow would not run it"
        ));
        return;
    };
    if live.attempt != attempt || matches!(live.phase, Phase::Parked(_)) {
        out.mismatches.push(format!(
            "event {seq}: {task} attempt {attempt} started, the replay is at attempt {}",
            live.attempt
        ));
        return;
    }
    out.starts += 1;
    match input::render(fold, live) {
        Ok((_, rendered)) if &rendered == journaled => {}
        Ok((_, rendered)) => out.mismatches.push(format!(
            "event {seq}: {task} input: replayed {rendered} but journaled {journaled}"
        )),
        Err(e) => out.mismatches.push(format!(
            "event {seq}: {task} input failed to render: {}",
            e.message
        )),
    }
}
