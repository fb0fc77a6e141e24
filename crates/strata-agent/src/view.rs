//! What people read about a run: its row plus a per-task summary folded from the journal
//! (status, attempts, timings, tokens, cost, error).

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};
use strata_store::{EventRow, RunRow};

use crate::engine::event::Event;

/// One task's story in a run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TaskView {
    pub task: String,
    pub status: String,
    pub attempts: u32,
    pub started_ms: i64,
    pub finished_ms: Option<i64>,
    /// Time spent in attempts.
    pub ms: u64,
    pub tokens_in: u64,
    pub tokens_out: u64,
    pub cost_usd: f64,
    pub error: Option<String>,
    pub output: Option<Value>,
    pub child: Option<String>,
}

/// The tasks of a journal, in the order they first started.
#[must_use]
pub fn tasks(events: &[EventRow]) -> Vec<TaskView> {
    let mut order: Vec<String> = Vec::new();
    let mut views: BTreeMap<String, TaskView> = BTreeMap::new();
    for row in events {
        let Ok(event) = serde_json::from_str::<Event>(&row.data) else {
            continue;
        };
        let Some(task) = event.task() else { continue };
        let view = views.entry(task.to_string()).or_insert_with(|| {
            order.push(task.to_string());
            TaskView {
                task: task.to_string(),
                started_ms: row.ts_ms,
                ..TaskView::default()
            }
        });
        match &event {
            Event::StepStarted { attempt, .. } => {
                view.attempts = *attempt;
                view.status = "running".into();
            }
            Event::StepSucceeded {
                output, calls, ms, ..
            } => {
                view.status = "succeeded".into();
                view.output = Some(output.clone());
                view.finished_ms = Some(row.ts_ms);
                view.error = None;
                add_calls(view, calls, *ms);
            }
            Event::StepFailed {
                error,
                calls,
                ms,
                retry_at,
                ..
            } => {
                view.status = if retry_at.is_some() {
                    "retrying"
                } else {
                    "failed"
                }
                .into();
                view.error = Some(format!("{}: {}", error.class, error.message));
                if retry_at.is_none() {
                    view.finished_ms = Some(row.ts_ms);
                }
                add_calls(view, calls, *ms);
            }
            Event::StepParked { child, .. } => {
                view.status = "waiting".into();
                view.child.clone_from(child);
            }
            _ => {}
        }
    }
    order.into_iter().filter_map(|k| views.remove(&k)).collect()
}

fn add_calls(view: &mut TaskView, calls: &[Value], ms: u64) {
    view.ms += ms;
    for call in calls {
        let n = |p: &str| call.pointer(p).and_then(Value::as_u64).unwrap_or(0);
        view.tokens_in += n("/tokens/input");
        view.tokens_out += n("/tokens/output");
        view.cost_usd += call.get("cost_usd").and_then(Value::as_f64).unwrap_or(0.0);
    }
}

fn parse(text: Option<&str>) -> Value {
    text.and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or(Value::Null)
}

/// A run as the API shows it; with its tasks when `events` are given.
#[must_use]
pub fn run_json(row: &RunRow, events: Option<&[EventRow]>) -> Value {
    let mut out = json!({
        "id": row.id,
        "workflow": row.workflow,
        "status": row.status,
        "input": parse(Some(&row.input)),
        "state": parse(Some(&row.state)),
        "output": parse(row.output.as_deref()),
        "error": parse(row.error.as_deref()),
        "principal": row.principal,
        "parent_id": row.parent_id,
        "forked_from": row.forked_from,
        "created_ms": row.created_ms,
        "updated_ms": row.updated_ms,
        "finished_ms": row.finished_ms,
    });
    if let Some(events) = events {
        let tasks = tasks(events);
        let (tin, tout, cost) = tasks.iter().fold((0, 0, 0.0), |(a, b, c), t| {
            (a + t.tokens_in, b + t.tokens_out, c + t.cost_usd)
        });
        out["tokens"] = json!({ "input": tin, "output": tout });
        out["cost_usd"] = json!(cost);
        out["steps"] = Value::Array(tasks.iter().map(task_json).collect());
    }
    out
}

fn task_json(t: &TaskView) -> Value {
    let mut m = Map::new();
    m.insert("task".into(), json!(t.task));
    m.insert("step".into(), json!(crate::engine::task_step(&t.task)));
    m.insert("status".into(), json!(t.status));
    m.insert("attempts".into(), json!(t.attempts));
    m.insert("started_ms".into(), json!(t.started_ms));
    m.insert("finished_ms".into(), json!(t.finished_ms));
    m.insert("ms".into(), json!(t.ms));
    m.insert(
        "tokens".into(),
        json!({ "input": t.tokens_in, "output": t.tokens_out }),
    );
    m.insert("cost_usd".into(), json!(t.cost_usd));
    if let Some(e) = &t.error {
        m.insert("error".into(), json!(e));
    }
    if let Some(o) = &t.output {
        m.insert("output".into(), o.clone());
    }
    if let Some(c) = &t.child {
        m.insert("child_run".into(), json!(c));
    }
    Value::Object(m)
}

/// `strata runs show`: the run and its tasks as a tree (items and branches under their step).
#[must_use]
pub fn tree(row: &RunRow, events: &[EventRow]) -> String {
    let tasks = tasks(events);
    let total = |f: fn(&TaskView) -> u64| tasks.iter().map(f).sum::<u64>();
    let cost: f64 = tasks.iter().map(|t| t.cost_usd).sum();
    let took = row
        .finished_ms
        .unwrap_or(row.updated_ms)
        .saturating_sub(row.created_ms);
    let mut out = format!(
        "run {}  {}  {}  {} ms  tokens {}/{}  cost ${cost:.6}\n",
        row.id,
        row.workflow,
        row.status,
        took,
        total(|t| t.tokens_in),
        total(|t| t.tokens_out),
    );
    if let Some(e) = &row.error {
        out.push_str(&format!("  error: {e}\n"));
    }
    let n = tasks.len();
    for (i, t) in tasks.iter().enumerate() {
        let nested = t.task.contains('[') || t.task.contains('.');
        let last = i + 1 == n;
        let branch = match (nested, last) {
            (true, _) => "│  └─ ",
            (false, true) => "└─ ",
            (false, false) => "├─ ",
        };
        let mut line = format!(
            "{branch}{:<24} {:<10} {:>6} ms  attempts {}",
            t.task, t.status, t.ms, t.attempts
        );
        if t.tokens_in + t.tokens_out > 0 {
            line.push_str(&format!("  tokens {}/{}", t.tokens_in, t.tokens_out));
        }
        if t.cost_usd > 0.0 {
            line.push_str(&format!("  ${:.6}", t.cost_usd));
        }
        if let Some(e) = &t.error {
            line.push_str(&format!("  [{e}]"));
        }
        if let Some(c) = &t.child {
            line.push_str(&format!("  → run {c}"));
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}
