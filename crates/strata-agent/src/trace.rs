//! `GET /v1/runs/{id}/trace`: a run's hops as a tree read from its journal alone (no
//! collector needed): the run, each step (task) with the decision that ended it, each attempt,
//! and each call the attempt made through the ai layer (model), the mcp layer (tool) or to
//! another workflow, with latency, tokens, cost and outcome.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use strata_store::{EventRow, RunRow};

use crate::clients::{span_id, trace_id};
use crate::engine::event::Event;

/// One attempt of a task, as the journal tells it.
#[derive(Debug, Default)]
struct Attempt {
    number: u32,
    /// The attempt's idempotency key (its span id derives from it).
    key: String,
    started_ms: i64,
    finished_ms: Option<i64>,
    ms: u64,
    outcome: &'static str,
    error: Option<String>,
    calls: Vec<Value>,
}

/// For a child run: the span of the parent's attempt that started it.
fn parent_span(row: &RunRow) -> Option<u64> {
    let parent = row.parent_id.as_ref()?;
    let (task, attempt) = row.parent_task.as_ref()?.rsplit_once('|')?;
    Some(span_id(&format!("{parent}/{task}/{attempt}")))
}

/// A call record of the journal as a hop; `span` is its span id.
fn hop(call: &Value, span: u64) -> Value {
    let layer = call.get("layer").and_then(Value::as_str).unwrap_or("call");
    let target = match layer {
        "ai" => call.pointer("/request/model").cloned(),
        "mcp" => {
            let server = call.get("server").and_then(Value::as_str).unwrap_or("?");
            let tool = call
                .pointer("/request/params/name")
                .and_then(Value::as_str)
                .unwrap_or("?");
            Some(json!(format!("{server}/{tool}")))
        }
        _ => call.get("workflow").or_else(|| call.get("agent")).cloned(),
    };
    let outcome = if call.get("error").is_some_and(|e| !e.is_null()) {
        "error"
    } else {
        "ok"
    };
    json!({
        "kind": "call",
        "span_id": format!("{span:016x}"),
        "layer": layer,
        "target": target,
        "ms": call.get("ms"),
        "status": call.get("status"),
        "tokens": call.get("tokens"),
        "cost_usd": call.get("cost_usd"),
        "outcome": outcome,
        "error": call.get("error"),
    })
}

/// The run's trace tree.
#[must_use]
pub fn trace_json(row: &RunRow, events: &[EventRow]) -> Value {
    let mut order: Vec<String> = Vec::new();
    let mut attempts: BTreeMap<String, Vec<Attempt>> = BTreeMap::new();
    let mut decisions: BTreeMap<String, &'static str> = BTreeMap::new();
    for row in events {
        let Ok(event) = serde_json::from_str::<Event>(&row.data) else {
            continue;
        };
        let Some(task) = event.task().map(str::to_string) else {
            continue;
        };
        if !attempts.contains_key(&task) {
            order.push(task.clone());
        }
        let list = attempts.entry(task.clone()).or_default();
        match event {
            Event::StepStarted { attempt, key, .. } => list.push(Attempt {
                number: attempt,
                key,
                started_ms: row.ts_ms,
                outcome: "running",
                ..Attempt::default()
            }),
            Event::StepSucceeded { calls, ms, .. } => {
                if let Some(a) = list.last_mut() {
                    a.finished_ms = Some(row.ts_ms);
                    a.ms = ms;
                    a.outcome = "succeeded";
                    a.calls = calls;
                }
                decisions.insert(task, "succeeded");
            }
            Event::StepFailed {
                error,
                calls,
                ms,
                retry_at,
                ..
            } => {
                if let Some(a) = list.last_mut() {
                    a.finished_ms = Some(row.ts_ms);
                    a.ms = ms;
                    a.outcome = "failed";
                    a.error = Some(format!("{}: {}", error.class, error.message));
                    a.calls = calls;
                }
                let decision = if retry_at.is_some() {
                    "retry"
                } else {
                    "failed"
                };
                decisions.insert(task, decision);
            }
            Event::StepParked { .. } => {
                if let Some(a) = list.last_mut() {
                    a.outcome = "parked";
                }
                decisions.insert(task, "waiting");
            }
            _ => {}
        }
    }
    let mut totals = (0u64, 0u64, 0.0f64);
    let steps: Vec<Value> = order
        .iter()
        .map(|task| {
            let list = attempts.remove(task).unwrap_or_default();
            let children: Vec<Value> = list
                .iter()
                .map(|a| {
                    let hops: Vec<Value> = a
                        .calls
                        .iter()
                        .enumerate()
                        .map(|(i, c)| hop(c, span_id(&format!("{}#call{i}", a.key))))
                        .collect();
                    for call in &a.calls {
                        let n = |p: &str| call.pointer(p).and_then(Value::as_u64).unwrap_or(0);
                        totals.0 += n("/tokens/input");
                        totals.1 += n("/tokens/output");
                        totals.2 += call.get("cost_usd").and_then(Value::as_f64).unwrap_or(0.0);
                    }
                    json!({
                        "kind": "attempt",
                        "span_id": format!("{:016x}", span_id(&a.key)),
                        "attempt": a.number,
                        "started_ms": a.started_ms,
                        "finished_ms": a.finished_ms,
                        "ms": a.ms,
                        "outcome": a.outcome,
                        "error": a.error,
                        "children": hops,
                    })
                })
                .collect();
            json!({
                "kind": "step",
                "span_id": format!("{:016x}", span_id(&format!("{}/{task}", row.id))),
                "task": task,
                "step": crate::engine::task_step(task),
                "decision": decisions.get(task).copied().unwrap_or("running"),
                "children": children,
            })
        })
        .collect();
    json!({
        "kind": "run",
        "id": row.id,
        "trace_id": row.trace_id.clone().unwrap_or_else(|| trace_id(&row.id)),
        "parent_span_id": parent_span(row).map(|s| format!("{s:016x}")),
        "span_id": format!("{:016x}", span_id(&row.id)),
        "workflow": row.workflow,
        "status": row.status,
        "principal": row.principal,
        "started_ms": row.created_ms,
        "finished_ms": row.finished_ms,
        "ms": row.finished_ms.unwrap_or(row.updated_ms).saturating_sub(row.created_ms),
        "tokens": { "input": totals.0, "output": totals.1 },
        "cost_usd": totals.2,
        "children": steps,
    })
}
