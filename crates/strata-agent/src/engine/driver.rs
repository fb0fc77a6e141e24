//! Executing one run while this process holds its lease: read the journal into the fold,
//! then loop — take in what arrived (signals, cancellation, children's ends, timers), start
//! what may start (journaled before its effect begins), wait for an attempt to end and
//! journal it — until the run ends or has nothing to do but wait, when it is released.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use serde_json::{Value, json};
use strata_config::Workflow;
use strata_store::{Commit, StoreError};
use tokio::sync::Notify;
use tokio::task::{AbortHandle, JoinSet};

use super::event::{Event, StepError};
use super::exec::{self, Attempt, Outcome};
use super::fold::{Fold, FoldError, Phase, Status};
use super::input::{self, Action};
use super::{Engine, new_event, retry, run_meta};

/// Why executing a run stopped early.
#[derive(Debug, thiserror::Error)]
enum DriveError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Fold(#[from] FoldError),
    #[error("stored run: {0}")]
    Malformed(String),
}

/// Executes `run_id` until it ends, waits, or this process loses it.
pub(super) async fn drive(engine: &Arc<Engine>, run_id: &str, notify: Arc<Notify>) {
    let result = match Driver::load(engine, run_id, notify).await {
        Ok(mut driver) => driver.run().await,
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => {}
        Err(DriveError::Store(StoreError::LeaseLost(_))) => {
            tracing::info!(run = run_id, "another process took the run over");
        }
        Err(e) => {
            // The lease runs out and the run is tried again (in this or another process).
            tracing::error!(run = run_id, error = %e, "executing the run failed");
        }
    }
}

/// Retries due within this long keep the run in this process.
const RETRY_HOLD_MS: i64 = 5_000;

type Joined = (String, u32, Action, Outcome, u64);

struct Driver {
    engine: Arc<Engine>,
    run_id: String,
    principal: Option<String>,
    session: Option<String>,
    /// The run's trace: its own, or its parent run's.
    trace: String,
    parent: Option<(String, String)>,
    deadline: Option<i64>,
    fold: Fold,
    pending: Vec<Event>,
    consumed: Vec<String>,
    running: HashMap<String, (u32, AbortHandle)>,
    set: JoinSet<Joined>,
    notify: Arc<Notify>,
    /// The session's earlier turns as chat messages, for `llm` steps (workflow `context`).
    history: Vec<Value>,
}

impl Driver {
    async fn load(
        engine: &Arc<Engine>,
        run_id: &str,
        notify: Arc<Notify>,
    ) -> Result<Self, DriveError> {
        let row = engine
            .store
            .run(run_id)
            .await?
            .ok_or_else(|| DriveError::Malformed(format!("run {run_id} is gone")))?;
        let def: Workflow = serde_json::from_str(&row.definition)
            .map_err(|e| DriveError::Malformed(format!("definition: {e}")))?;
        let input: Value = serde_json::from_str(&row.input)
            .map_err(|e| DriveError::Malformed(format!("input: {e}")))?;
        let mut fold = Fold::new(Arc::new(def), input, run_meta(run_id, &row.workflow));
        for event in engine.store.run_events(run_id, 0, i64::MAX).await? {
            let event: Event = serde_json::from_str(&event.data)
                .map_err(|e| DriveError::Malformed(format!("event {}: {e}", event.seq)))?;
            fold.apply(&event)?;
        }
        let history = match (&fold.def.context, &row.session_id) {
            (Some(c), Some(session)) if c.history => {
                crate::conversation::turns(&engine.store, session, Some(run_id))
                    .await?
                    .iter()
                    .map(crate::conversation::Turn::chat)
                    .collect()
            }
            _ => Vec::new(),
        };
        let parent = row.parent_id.zip(row.parent_task);
        Ok(Self {
            engine: engine.clone(),
            run_id: run_id.to_string(),
            principal: row.principal,
            session: row.session_id,
            trace: row
                .trace_id
                .unwrap_or_else(|| crate::clients::trace_id(run_id)),
            parent,
            deadline: row.deadline,
            fold,
            pending: Vec::new(),
            consumed: Vec::new(),
            running: HashMap::new(),
            set: JoinSet::new(),
            notify,
            history,
        })
    }

    async fn run(&mut self) -> Result<(), DriveError> {
        let mut check_inbox = true;
        loop {
            if check_inbox {
                self.read_inbox().await?;
                check_inbox = false;
            }
            let now = strata_core::now_ms();
            self.timers(now)?;
            let starts = self.start_ready(now)?;
            if self.fold.status.is_terminal() {
                return self.finish().await;
            }
            self.flush(None).await?;
            for start in starts {
                self.spawn(start);
            }
            self.abort_abandoned();
            // A retry due soon is waited for here; anything longer releases the run.
            let retry_soon = self
                .fold
                .next_retry()
                .is_some_and(|at| at - strata_core::now_ms() < RETRY_HOLD_MS);
            if self.set.is_empty() && !retry_soon {
                if !self.fold.startable(strata_core::now_ms()).is_empty() {
                    continue;
                }
                let wake = [self.fold.next_timer(), self.deadline]
                    .into_iter()
                    .flatten()
                    .min();
                return self.flush(Some(wake)).await;
            }
            let wake = [self.fold.next_timer(), self.deadline]
                .into_iter()
                .flatten()
                .min()
                .map(|at| (at - strata_core::now_ms()).max(0) as u64);
            let timer = tokio::time::sleep(std::time::Duration::from_millis(
                wake.unwrap_or(u64::MAX / 4),
            ));
            tokio::select! {
                Some(joined) = self.set.join_next() => {
                    if let Ok(joined) = joined {
                        self.completed(joined)?;
                    }
                }
                () = self.notify.notified() => check_inbox = true,
                () = timer => {}
                () = tokio::time::sleep(self.engine.settings().poll) => check_inbox = true,
                () = self.engine.shutdown.token().cancelled() => {
                    self.set.abort_all();
                    self.engine.store.release_run(&self.run_id, &self.engine.owner).await?;
                    return Ok(());
                }
            }
        }
    }

    /// Journals `event` and applies it.
    fn push(&mut self, event: Event) -> Result<(), DriveError> {
        self.fold.apply(&event)?;
        self.pending.push(event);
        Ok(())
    }

    async fn read_inbox(&mut self) -> Result<(), DriveError> {
        for item in self.engine.store.inbox(&self.run_id).await? {
            self.consumed.push(item.id);
            let data: Value = serde_json::from_str(&item.data).unwrap_or(Value::Null);
            let event = match item.kind.as_str() {
                "signal" => Some(Event::SignalReceived {
                    step: data.get("step").and_then(Value::as_str).map(str::to_string),
                    data: data.get("data").cloned().unwrap_or(Value::Null),
                }),
                "cancel" => Some(Event::RunCancelled {
                    reason: data
                        .get("reason")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                }),
                "child" => self.child_ended(&data),
                _ => None,
            };
            if let Some(event) = event {
                self.push(event)?;
            }
        }
        Ok(())
    }

    /// The end of a child run, as the end of the step attempt that started it.
    fn child_ended(&self, data: &Value) -> Option<Event> {
        let (task, attempt) = data.get("task")?.as_str()?.rsplit_once('|')?;
        let attempt: u32 = attempt.parse().ok()?;
        let live = self.fold.tasks.get(task)?;
        if live.attempt != attempt {
            return None;
        }
        let child = data.get("run").and_then(Value::as_str).unwrap_or_default();
        let calls = vec![json!({ "layer": "agent", "run": child })];
        Some(match data.get("status").and_then(Value::as_str) {
            Some("succeeded") => Event::StepSucceeded {
                task: task.to_string(),
                attempt,
                output: data.get("output").cloned().unwrap_or(Value::Null),
                calls,
                ms: 0,
            },
            status => {
                let error = data
                    .get("error")
                    .and_then(|e| serde_json::from_value::<StepError>(e.clone()).ok())
                    .unwrap_or_else(|| {
                        StepError::new("failed", format!("run {child} ended {status:?}"))
                    });
                Event::StepFailed {
                    task: task.to_string(),
                    attempt,
                    error,
                    calls,
                    ms: 0,
                    retry_at: None,
                }
            }
        })
    }

    /// Parked tasks whose time came, and the run's own deadline.
    fn timers(&mut self, now: i64) -> Result<(), DriveError> {
        for (task, attempt) in self.fold.due_parked(now) {
            let human = self
                .fold
                .tasks
                .get(&task)
                .and_then(|t| self.fold.def.steps.get(&t.step))
                .is_some_and(|s| s.human.is_some());
            let event = if human {
                Event::StepFailed {
                    task,
                    attempt,
                    error: StepError::new("timeout", "no signal arrived in time"),
                    calls: Vec::new(),
                    ms: 0,
                    retry_at: None,
                }
            } else {
                Event::StepSucceeded {
                    task,
                    attempt,
                    output: Value::Null,
                    calls: Vec::new(),
                    ms: 0,
                }
            };
            self.push(event)?;
        }
        if let Some(deadline) = self.deadline
            && now >= deadline
            && self.fold.status == Status::Running
        {
            self.push(Event::RunTimedOut)?;
        }
        Ok(())
    }

    /// Journals the start of every task that may start now; returns what to spawn.
    fn start_ready(&mut self, now: i64) -> Result<Vec<(Attempt, Action, Value)>, DriveError> {
        let mut starts = Vec::new();
        for key in self.fold.startable(now) {
            if self.running.contains_key(&key) {
                continue;
            }
            let Some(task) = self.fold.tasks.get(&key).cloned() else {
                continue;
            };
            let rendered = input::render(&self.fold, &task);
            let (action, input) = match rendered {
                Ok(rendered) => rendered,
                Err(error) => {
                    self.push(Event::StepFailed {
                        task: key,
                        attempt: task.attempt,
                        error,
                        calls: Vec::new(),
                        ms: 0,
                        retry_at: None,
                    })?;
                    continue;
                }
            };
            let input = match (&self.fold.def.context, action) {
                (Some(window), Action::Llm) => {
                    let mut input = input;
                    input["messages"] =
                        super::window::with_history(&input["messages"], &self.history);
                    input["context"] = super::window::policy_json(window);
                    input
                }
                _ => input,
            };
            // A start journaled before a crash runs again with the same input and key.
            let input = match (&task.phase, &task.input) {
                (Phase::Running, Some(journaled)) => journaled.clone(),
                _ => input,
            };
            let attempt_key = format!("{}/{key}/{}", self.run_id, task.attempt);
            if task.phase != Phase::Running || task.input.is_none() {
                self.push(Event::StepStarted {
                    task: key.clone(),
                    attempt: task.attempt,
                    input: input.clone(),
                    key: attempt_key.clone(),
                })?;
            }
            let step = self.fold.def.steps.get(&task.step);
            let timeout = step
                .and_then(|s| s.timeout)
                .or(self.fold.def.defaults.timeout)
                .filter(|_| action.calls_out())
                .map(|t| t.0);
            starts.push((
                Attempt {
                    run_id: self.run_id.clone(),
                    task: key,
                    attempt: task.attempt,
                    principal: self.principal.clone(),
                    session: self.session.clone(),
                    trace: self.trace.clone(),
                    key: attempt_key,
                    timeout,
                },
                action,
                input,
            ));
        }
        Ok(starts)
    }

    fn spawn(&mut self, (at, action, input): (Attempt, Action, Value)) {
        let live = self
            .fold
            .tasks
            .get(&at.task)
            .is_some_and(|t| t.attempt == at.attempt && t.phase == Phase::Running);
        if !live {
            return;
        }
        let engine = self.engine.clone();
        let (task, attempt) = (at.task.clone(), at.attempt);
        let handle = self.set.spawn(async move {
            let started = Instant::now();
            let outcome = exec::execute(&engine, &at, action, input).await;
            let ms = started.elapsed().as_millis() as u64;
            (at.task, at.attempt, action, outcome, ms)
        });
        self.running.insert(task, (attempt, handle));
    }

    /// Stops attempts whose task the fold dropped (run ended, fan-out gave up).
    fn abort_abandoned(&mut self) {
        let fold = &self.fold;
        self.running.retain(|task, (attempt, handle)| {
            let live = fold.tasks.get(task).is_some_and(|t| t.attempt == *attempt);
            if !live {
                handle.abort();
            }
            live
        });
    }

    fn completed(
        &mut self,
        (task, attempt, action, outcome, ms): Joined,
    ) -> Result<(), DriveError> {
        self.running.remove(&task);
        let live = self
            .fold
            .tasks
            .get(&task)
            .is_some_and(|t| t.attempt == attempt);
        if !live {
            return Ok(());
        }
        let event = match outcome {
            Outcome::Done {
                result: Ok(output),
                calls,
            } => Event::StepSucceeded {
                task,
                attempt,
                output,
                calls,
                ms,
            },
            Outcome::Done {
                result: Err(error),
                calls,
            } => {
                let retry_at = self.retry_at(&task, action, &error, attempt);
                Event::StepFailed {
                    task,
                    attempt,
                    error,
                    calls,
                    ms,
                    retry_at,
                }
            }
            Outcome::Park { wake_at, child } => Event::StepParked {
                task,
                attempt,
                wake_at,
                child,
            },
        };
        self.push(event)
    }

    fn retry_at(&self, task: &str, action: Action, error: &StepError, attempt: u32) -> Option<i64> {
        if !action.calls_out() || error.class == "cancelled" {
            return None;
        }
        let step = self
            .fold
            .tasks
            .get(task)
            .and_then(|t| self.fold.def.steps.get(&t.step))?;
        let rules = step.retry.as_ref().unwrap_or(&self.fold.def.defaults.retry);
        let wait = retry::delay(rules, error, attempt, fastrand::f64())?;
        Some(strata_core::now_ms() + wait.as_millis() as i64)
    }

    /// Writes the pending events; with `park`, also releases the run to wait until then.
    async fn flush(&mut self, park: Option<Option<i64>>) -> Result<(), DriveError> {
        if self.pending.is_empty() && self.consumed.is_empty() && park.is_none() {
            return Ok(());
        }
        let commit = Commit {
            events: self.pending.iter().map(new_event).collect(),
            state: Some(Value::Object(self.fold.state.clone()).to_string()),
            status: Some(if park.is_some() { "waiting" } else { "running" }.to_string()),
            park,
            consumed: std::mem::take(&mut self.consumed),
            ..Commit::default()
        };
        self.commit(commit).await
    }

    async fn commit(&mut self, commit: Commit) -> Result<(), DriveError> {
        let now = strata_core::now_ms();
        self.engine
            .store
            .commit_run(&self.run_id, &self.engine.owner, &commit, now)
            .await?;
        self.pending.clear();
        let _ = self.engine.journal.send(self.run_id.clone());
        Ok(())
    }

    /// Journals the end, tells the parent, cancels children left behind.
    async fn finish(&mut self) -> Result<(), DriveError> {
        self.set.abort_all();
        let status = self.fold.status.as_str().to_string();
        let output = self.fold.output.clone();
        let error = self.fold.error.clone();
        if !self.fold.finished {
            self.push(Event::RunFinished {
                status: status.clone(),
                output: output.clone(),
                error: error.clone(),
            })?;
        }
        let notify = self.parent.as_ref().map(|(parent, task)| {
            let data = json!({
                "task": task, "run": self.run_id, "status": status,
                "output": output, "error": error,
            });
            (parent.clone(), "child".to_string(), data.to_string())
        });
        let commit = Commit {
            events: self.pending.iter().map(new_event).collect(),
            state: Some(Value::Object(self.fold.state.clone()).to_string()),
            status: Some(status),
            output: output.map(|o| o.to_string()),
            error: error.map(|e| json!(e).to_string()),
            finished: true,
            consumed: std::mem::take(&mut self.consumed),
            notify,
            ..Commit::default()
        };
        self.commit(commit).await?;
        for child in std::mem::take(&mut self.fold.orphans) {
            let _ = self
                .engine
                .tell(
                    &child,
                    "cancel",
                    &json!({ "reason": "the parent run ended" }),
                )
                .await;
        }
        if let Some((parent, _)) = &self.parent {
            self.engine.poke(parent);
        }
        self.export_spans().await;
        Ok(())
    }

    /// Hands the finished run's spans to the OTLP exporter, when one is configured.
    async fn export_spans(&self) {
        if !strata_telemetry::spans::enabled() {
            return;
        }
        let store = &self.engine.store;
        match (
            store.run(&self.run_id).await,
            store.run_events(&self.run_id, 0, i64::MAX).await,
        ) {
            (Ok(Some(row)), Ok(events)) => {
                strata_telemetry::spans::emit(crate::otel::spans(&row, &events))
            }
            _ => tracing::warn!(run = %self.run_id, "the run's spans could not be read for export"),
        }
    }
}
