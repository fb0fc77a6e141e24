//! A run seen as an A2A task: its state, the updates its journal yields (each with a
//! monotonic id derived from the journal's sequence numbers, so a stream can resume after
//! `Last-Event-ID`), its history and its output artifact.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};
use strata_config::Workflow;
use strata_store::{EventRow, MessageRow, RunRow};

use super::wire::{State, agent_message, parts_of, timestamp};
use crate::engine::event::Event;
use crate::engine::task_step;

/// Stream event ids: `seq * SLOTS + k` for the k-th update a journal event yields.
pub const SLOTS: i64 = 4;

/// One update of a task, in the 1.0 `StreamResponse` shape.
#[derive(Debug, Clone, PartialEq)]
pub struct Update {
    pub id: i64,
    pub state: Option<State>,
    /// `{"statusUpdate": …}` or `{"artifactUpdate": …}`.
    pub body: Value,
}

/// Folds a run's journal into task updates.
#[derive(Debug)]
pub struct Tracker {
    task: String,
    context: String,
    human: BTreeSet<String>,
    prompts: BTreeMap<String, Value>,
    waiting: BTreeSet<String>,
    pub state: State,
    pub status: Value,
    pub seq: i64,
    /// The journal sequence number of the last state change.
    pub changed: i64,
    /// Agent messages so far, with their time (for the history).
    pub said: Vec<(i64, Value)>,
    pub artifacts: Vec<Value>,
}

impl Tracker {
    #[must_use]
    pub fn new(row: &RunRow) -> Self {
        let def: Option<Workflow> = serde_json::from_str(&row.definition).ok();
        let human = def
            .map(|d| {
                d.steps
                    .iter()
                    .filter(|(_, s)| s.human.is_some())
                    .map(|(n, _)| n.clone())
                    .collect()
            })
            .unwrap_or_default();
        let context = row.session_id.clone().unwrap_or_default();
        Self {
            task: row.id.clone(),
            context,
            human,
            prompts: BTreeMap::new(),
            waiting: BTreeSet::new(),
            state: State::Submitted,
            status: json!({ "state": State::Submitted.name(), "timestamp": timestamp(row.created_ms) }),
            seq: 0,
            changed: 0,
            said: Vec::new(),
            artifacts: Vec::new(),
        }
    }

    /// Applies one journal event; returns the updates it yields.
    pub fn apply(&mut self, row: &EventRow) -> Vec<Update> {
        self.seq = row.seq;
        let Ok(event) = serde_json::from_str::<Event>(&row.data) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        match event {
            Event::StepStarted { task, input, .. } => {
                if self.human.contains(task_step(&task)) {
                    self.prompts
                        .insert(task, input.get("prompt").cloned().unwrap_or(Value::Null));
                }
                self.set(State::Working, None, row, &mut out);
            }
            Event::StepParked { task, .. } if self.human.contains(task_step(&task)) => {
                let prompt = self.prompts.get(&task).cloned().unwrap_or(Value::Null);
                self.waiting.insert(task);
                let message = agent_message(
                    &format!("{}-{}", self.task, row.seq),
                    &self.task,
                    &self.context,
                    &parts_of(&prompt),
                );
                self.set(State::InputRequired, Some(message), row, &mut out);
            }
            Event::SignalReceived { .. } | Event::StepSucceeded { .. } => {
                if let Event::StepSucceeded { task, .. } = &event {
                    self.waiting.remove(task);
                } else {
                    self.waiting.clear();
                }
                if self.state == State::InputRequired && self.waiting.is_empty() {
                    self.set(State::Working, None, row, &mut out);
                }
            }
            Event::RunFinished {
                status,
                output,
                error,
            } => {
                let (state, said) = match status.as_str() {
                    "succeeded" => (State::Completed, output.unwrap_or(Value::Null)),
                    "cancelled" => (State::Canceled, json!("The task was canceled.")),
                    _ => (
                        State::Failed,
                        json!(error.map_or_else(
                            || "The task failed.".to_string(),
                            |e| format!("{}: {}", e.class, e.message)
                        )),
                    ),
                };
                if state == State::Completed {
                    let artifact = json!({
                        "artifactId": format!("{}-output", self.task),
                        "name": "output",
                        "parts": parts_of(&said),
                    });
                    self.artifacts.push(artifact.clone());
                    out.push(Update {
                        id: row.seq * SLOTS + out.len() as i64,
                        state: None,
                        body: json!({ "artifactUpdate": {
                            "taskId": self.task, "contextId": self.context,
                            "artifact": artifact, "lastChunk": true,
                        }}),
                    });
                }
                let message = agent_message(
                    &format!("{}-{}", self.task, row.seq),
                    &self.task,
                    &self.context,
                    &parts_of(&said),
                );
                self.set(state, Some(message), row, &mut out);
            }
            _ => {}
        }
        out
    }

    fn set(&mut self, state: State, message: Option<Value>, row: &EventRow, out: &mut Vec<Update>) {
        if state == self.state && message.is_none() {
            return;
        }
        self.state = state;
        self.changed = row.seq;
        self.status = json!({ "state": state.name(), "timestamp": timestamp(row.ts_ms) });
        if let Some(m) = message {
            self.said.push((row.ts_ms, m.clone()));
            self.status["message"] = m;
        }
        out.push(Update {
            id: row.seq * SLOTS + out.len() as i64,
            state: Some(state),
            body: json!({ "statusUpdate": {
                "taskId": self.task, "contextId": self.context, "status": self.status,
            }}),
        });
    }

    /// The task as it stands, with the last `history` messages (all when `None`).
    #[must_use]
    pub fn task(&self, inbound: &[MessageRow], history: Option<usize>, artifacts: bool) -> Value {
        let mut task = json!({ "id": self.task, "contextId": self.context, "status": self.status });
        if artifacts && !self.artifacts.is_empty() {
            task["artifacts"] = Value::Array(self.artifacts.clone());
        }
        let mut all: Vec<(i64, Value)> = inbound
            .iter()
            .filter_map(|m| {
                let mut v: Value = serde_json::from_str(&m.content).ok()?;
                v["taskId"] = json!(self.task);
                v["contextId"] = json!(self.context);
                Some((m.ts_ms, v))
            })
            .collect();
        all.extend(self.said.iter().cloned());
        all.sort_by_key(|(ts, _)| *ts);
        let keep = history.unwrap_or(all.len()).min(all.len());
        if keep > 0 {
            let skip = all.len() - keep;
            task["history"] = Value::Array(all.into_iter().skip(skip).map(|(_, m)| m).collect());
        }
        task
    }
}

/// A run's tracker after its whole journal.
#[must_use]
pub fn fold(row: &RunRow, events: &[EventRow]) -> Tracker {
    let mut t = Tracker::new(row);
    for e in events {
        t.apply(e);
    }
    t
}
