//! The scheduler as a fold: a run's state is its definition and input with every journaled
//! event applied in order. The executor asks it what may start, journals what happened, and
//! applies that; replay applies the same events without calling anything, so both always
//! agree. Nothing here does I/O or reads the clock.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use serde_json::{Map, Value, json};
use strata_config::{Step, Workflow};

use super::event::{Event, StepError};
use super::expr::{self, Scope};
use super::state;

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Running,
    /// Failed terminally; compensation steps are running.
    Compensating,
    Succeeded,
    Failed,
    Cancelled,
}

impl Status {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Running => "running",
            Status::Compensating => "compensating",
            Status::Succeeded => "succeeded",
            Status::Failed => "failed",
            Status::Cancelled => "cancelled",
        }
    }

    #[must_use]
    pub fn is_terminal(self) -> bool {
        matches!(self, Status::Succeeded | Status::Failed | Status::Cancelled)
    }
}

/// What one task runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unit {
    /// The step itself.
    Whole,
    /// One item of a `map`.
    Item(usize),
    /// One branch of a `parallel`.
    Branch(String),
    /// The compensation of the step instance `origin` (`step#visit`).
    Compensation { origin: String },
}

/// Where a task is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// May start now.
    Ready,
    /// An attempt was journaled as started and has not ended.
    Running,
    /// The next attempt may start at this time (ms).
    Retry(i64),
    /// Waits for a signal, a child run or this time (ms).
    Parked(Option<i64>),
}

/// A unit of work of a step visit, with its attempts.
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    pub step: String,
    pub visit: u32,
    pub unit: Unit,
    pub attempt: u32,
    pub phase: Phase,
    /// The input journaled with the current attempt's start.
    pub input: Option<Value>,
    /// The child run the parked attempt waits for.
    pub child: Option<String>,
}

/// A step's standing across its visits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StepStatus {
    #[default]
    Pending,
    Running,
    Succeeded,
    Failed,
    Skipped,
}

/// Fan-out bookkeeping of a `map` or `parallel` visit.
#[derive(Debug, Clone)]
struct Group {
    items: Vec<Value>,
    branches: Vec<String>,
    results: Vec<Value>,
    settled: usize,
    failures: usize,
    tolerated: usize,
    next: usize,
}

/// The journal doesn't fit the definition (a bug, or an edited journal).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("journal does not fit the workflow: {0}")]
pub struct FoldError(pub String);

/// A run, as of the events applied so far.
#[derive(Debug, Clone)]
pub struct Fold {
    pub def: Arc<Workflow>,
    pub input: Value,
    pub run: Value,
    pub state: Map<String, Value>,
    /// Each step's latest output (`steps` in templates).
    pub outputs: Map<String, Value>,
    pub visits: BTreeMap<String, u32>,
    pub step_status: BTreeMap<String, StepStatus>,
    pub tasks: BTreeMap<String, Task>,
    groups: BTreeMap<String, Group>,
    /// Succeeded step instances that have a compensation, in order.
    done: Vec<(String, String)>,
    compensations: VecDeque<(String, String)>,
    pub compensation_errors: Vec<StepError>,
    signals: Vec<(Option<String>, Value)>,
    pub status: Status,
    pub output: Option<Value>,
    pub error: Option<StepError>,
    last_error: Option<Value>,
    /// `RunFinished` was journaled.
    pub finished: bool,
    /// Child runs of dropped tasks, for the executor to cancel.
    pub orphans: Vec<String>,
    /// Steps some `next`/`catch`/`choice`/`compensate` leads to (they start only when routed to).
    routed: BTreeSet<String>,
    /// Steps that are some step's compensation (never started by `needs`).
    compensators: BTreeSet<String>,
}

/// The key of a step visit's task.
#[must_use]
pub fn task_key(step: &str, visit: u32, unit: &Unit) -> String {
    match unit {
        Unit::Whole => format!("{step}#{visit}"),
        Unit::Item(i) => format!("{step}#{visit}[{i}]"),
        Unit::Branch(name) => format!("{step}#{visit}.{name}"),
        Unit::Compensation { origin } => format!("{step}@{origin}"),
    }
}

impl Fold {
    /// A new run of `def` with `input`: the steps with nothing to wait for are ready.
    #[must_use]
    pub fn new(def: Arc<Workflow>, input: Value, run: Value) -> Self {
        let compensators: BTreeSet<String> = def
            .steps
            .values()
            .filter_map(|s| s.compensate.clone())
            .collect();
        let mut routed: BTreeSet<String> = def
            .steps
            .values()
            .flat_map(|s| s.routes().into_iter().map(str::to_string))
            .collect();
        routed.extend(compensators.iter().cloned());
        let mut fold = Self {
            routed,
            compensators,
            state: state::initial(&def.state),
            def,
            input,
            run,
            outputs: Map::new(),
            visits: BTreeMap::new(),
            step_status: BTreeMap::new(),
            tasks: BTreeMap::new(),
            groups: BTreeMap::new(),
            done: Vec::new(),
            compensations: VecDeque::new(),
            compensation_errors: Vec::new(),
            signals: Vec::new(),
            status: Status::Running,
            output: None,
            error: None,
            last_error: None,
            finished: false,
            orphans: Vec::new(),
        };
        let entry: Vec<String> = fold
            .def
            .steps
            .iter()
            .filter(|(name, step)| step.needs.is_empty() && !fold.is_routed(name))
            .map(|(name, _)| name.clone())
            .collect();
        for name in entry {
            fold.activate(&name);
        }
        fold.settle();
        fold
    }

    /// Applies one journaled event.
    pub fn apply(&mut self, event: &Event) -> Result<(), FoldError> {
        match event {
            Event::RunStarted { .. } | Event::RunFinished { .. } => {
                if matches!(event, Event::RunFinished { .. }) {
                    self.finished = true;
                }
            }
            Event::StepStarted {
                task,
                attempt,
                input,
                ..
            } => {
                let t = self.task_mut(task, *attempt)?;
                t.phase = Phase::Running;
                t.input = Some(input.clone());
            }
            Event::StepSucceeded {
                task,
                attempt,
                output,
                ..
            } => {
                self.task_mut(task, *attempt)?;
                if let Some(t) = self.tasks.remove(task) {
                    self.unit_succeeded(&t, output.clone());
                }
            }
            Event::StepFailed {
                task,
                attempt,
                error,
                retry_at,
                ..
            } => {
                let t = self.task_mut(task, *attempt)?;
                if let Some(at) = retry_at {
                    t.attempt += 1;
                    t.phase = Phase::Retry(*at);
                    t.input = None;
                } else if let Some(t) = self.tasks.remove(task) {
                    self.unit_failed(&t, error.clone());
                }
            }
            Event::StepParked {
                task,
                attempt,
                wake_at,
                child,
            } => {
                let t = self.task_mut(task, *attempt)?;
                t.phase = Phase::Parked(*wake_at);
                t.child.clone_from(child);
                let step = t.step.clone();
                if let Some(i) = self.signals.iter().position(|(s, _)| {
                    s.as_deref().is_none_or(|s| s == step) && self.is_human(&step)
                }) {
                    let (_, data) = self.signals.remove(i);
                    if let Some(t) = self.tasks.remove(task) {
                        self.unit_succeeded(&t, data);
                    }
                }
            }
            Event::SignalReceived { step, data } => match self.waiting_human(step.as_deref()) {
                Some(key) => {
                    if let Some(t) = self.tasks.remove(&key) {
                        self.unit_succeeded(&t, data.clone());
                    }
                }
                None => self.signals.push((step.clone(), data.clone())),
            },
            Event::RunCancelled { .. } => {
                if !self.status.is_terminal() {
                    self.status = Status::Cancelled;
                    self.error = Some(StepError::new("cancelled", "the run was cancelled"));
                    self.abandon_all();
                }
            }
            Event::RunTimedOut => {
                if self.status == Status::Running {
                    self.fail_run(StepError::new("timeout", "the run's timeout passed"));
                }
            }
        }
        self.settle();
        Ok(())
    }

    fn task_mut(&mut self, key: &str, attempt: u32) -> Result<&mut Task, FoldError> {
        match self.tasks.get_mut(key) {
            Some(t) if t.attempt == attempt => Ok(t),
            Some(t) => Err(FoldError(format!(
                "task {key} is at attempt {}, the journal says {attempt}",
                t.attempt
            ))),
            None => Err(FoldError(format!("task {key} is not live"))),
        }
    }

    /// Tasks the executor may start at `now` (ready, retry due) or must run again (journaled
    /// as started but not running in this process: it crashed or lost the run).
    #[must_use]
    pub fn startable(&self, now: i64) -> Vec<String> {
        self.tasks
            .iter()
            .filter(|(_, t)| match t.phase {
                Phase::Ready | Phase::Running => true,
                Phase::Retry(at) => at <= now,
                Phase::Parked(_) => false,
            })
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// The earliest time something is due: a retry, a parked timer.
    #[must_use]
    pub fn next_timer(&self) -> Option<i64> {
        self.tasks
            .values()
            .filter_map(|t| match t.phase {
                Phase::Retry(at) | Phase::Parked(Some(at)) => Some(at),
                _ => None,
            })
            .min()
    }

    /// The earliest retry that is due later.
    #[must_use]
    pub fn next_retry(&self) -> Option<i64> {
        self.tasks
            .values()
            .filter_map(|t| match t.phase {
                Phase::Retry(at) => Some(at),
                _ => None,
            })
            .min()
    }

    /// Parked tasks whose timer has passed.
    #[must_use]
    pub fn due_parked(&self, now: i64) -> Vec<(String, u32)> {
        self.tasks
            .iter()
            .filter(|(_, t)| matches!(t.phase, Phase::Parked(Some(at)) if at <= now))
            .map(|(k, t)| (k.clone(), t.attempt))
            .collect()
    }

    /// The step definition of a task (the compensation's own step for compensations).
    pub fn step_of(&self, task: &Task) -> Option<&Step> {
        self.def.steps.get(&task.step)
    }

    /// The scope templates of a task see.
    pub fn scope<'a>(&'a self, item: Option<&'a Value>) -> Scope<'a> {
        Scope {
            input: &self.input,
            state: &self.state,
            steps: &self.outputs,
            item,
            error: self.last_error.as_ref(),
            run: &self.run,
        }
    }

    /// The map item a task works on.
    #[must_use]
    pub fn item_of(&self, task: &Task) -> Option<&Value> {
        match task.unit {
            Unit::Item(i) => self
                .groups
                .get(&task_key(&task.step, task.visit, &Unit::Whole))
                .and_then(|g| g.items.get(i)),
            _ => None,
        }
    }

    fn is_routed(&self, name: &str) -> bool {
        self.routed.contains(name)
    }

    fn is_compensator(&self, name: &str) -> bool {
        self.compensators.contains(name)
    }

    fn is_human(&self, step: &str) -> bool {
        self.def.steps.get(step).is_some_and(|s| s.human.is_some())
    }

    /// The parked `human` task a signal for `step` (or the only one, when unnamed) completes.
    fn waiting_human(&self, step: Option<&str>) -> Option<String> {
        let mut waiting = self.tasks.iter().filter(|(_, t)| {
            matches!(t.phase, Phase::Parked(_))
                && self.is_human(&t.step)
                && step.is_none_or(|s| s == t.step)
        });
        let first = waiting.next().map(|(k, _)| k.clone());
        if step.is_none() && waiting.next().is_some() {
            return None;
        }
        first
    }

    /// Starts a visit of `name`.
    fn activate(&mut self, name: &str) {
        if self.status != Status::Running {
            return;
        }
        let Some(step) = self.def.steps.get(name).cloned() else {
            self.fail_run(StepError::new("internal", format!("no step `{name}`")));
            return;
        };
        let visit = {
            let v = self.visits.entry(name.to_string()).or_insert(0);
            *v += 1;
            *v
        };
        if let Some(max) = step.max_visits
            && visit > max
        {
            self.fail_run(StepError::new(
                "failed",
                format!("step `{name}` would run a {visit}th time (max_visits: {max})"),
            ));
            return;
        }
        self.step_status
            .insert(name.to_string(), StepStatus::Running);
        if let Some(when) = &step.when {
            match expr::condition(when, &self.scope(None)) {
                Ok(true) => {}
                Ok(false) => {
                    self.step_status
                        .insert(name.to_string(), StepStatus::Skipped);
                    self.after_finished(name);
                    return;
                }
                Err(e) => {
                    self.step_failed(name, StepError::bad_input(e));
                    return;
                }
            }
        }
        let whole = task_key(name, visit, &Unit::Whole);
        if let Some(map) = &step.map {
            let items = match expr::cel(&map.items, &self.scope(None)) {
                Ok(Value::Array(items)) => items,
                Ok(other) => {
                    let e = format!("map.items gave {other}, not a list");
                    self.step_failed(name, StepError::bad_input(e));
                    return;
                }
                Err(e) => {
                    self.step_failed(name, StepError::bad_input(e));
                    return;
                }
            };
            let n = items.len();
            let tolerated = tolerated(map.tolerated_failure.as_ref(), n);
            let first = n.min(map.max_concurrency.max(1) as usize);
            self.groups.insert(
                whole,
                Group {
                    items,
                    branches: Vec::new(),
                    results: vec![Value::Null; n],
                    settled: 0,
                    failures: 0,
                    tolerated,
                    next: first,
                },
            );
            if n == 0 {
                self.groups.remove(&task_key(name, visit, &Unit::Whole));
                self.step_succeeded(name, visit, Value::Array(Vec::new()));
            }
            for i in 0..first {
                self.add_task(name, visit, Unit::Item(i));
            }
        } else if let Some(parallel) = &step.parallel {
            let branches: Vec<String> = parallel.branches.keys().cloned().collect();
            self.groups.insert(
                whole,
                Group {
                    items: Vec::new(),
                    results: vec![Value::Null; branches.len()],
                    branches: branches.clone(),
                    settled: 0,
                    failures: 0,
                    tolerated: 0,
                    next: branches.len(),
                },
            );
            for b in branches {
                self.add_task(name, visit, Unit::Branch(b));
            }
        } else {
            self.add_task(name, visit, Unit::Whole);
        }
    }

    fn add_task(&mut self, step: &str, visit: u32, unit: Unit) {
        let key = task_key(step, visit, &unit);
        self.tasks.insert(
            key,
            Task {
                step: step.to_string(),
                visit,
                unit,
                attempt: 1,
                phase: Phase::Ready,
                input: None,
                child: None,
            },
        );
    }

    fn unit_succeeded(&mut self, task: &Task, output: Value) {
        match &task.unit {
            Unit::Whole => self.step_succeeded(&task.step, task.visit, output),
            Unit::Item(i) => self.settle_unit(task, *i, Ok(output)),
            Unit::Branch(b) => {
                let i = self.branch_index(task, b);
                self.settle_unit(task, i, Ok(output));
            }
            Unit::Compensation { .. } => self.next_compensation(),
        }
    }

    fn unit_failed(&mut self, task: &Task, error: StepError) {
        match &task.unit {
            Unit::Whole => self.step_failed(&task.step, error),
            Unit::Item(i) => self.settle_unit(task, *i, Err(error)),
            Unit::Branch(b) => {
                let i = self.branch_index(task, b);
                self.settle_unit(task, i, Err(error));
            }
            Unit::Compensation { .. } => {
                self.compensation_errors.push(error);
                self.next_compensation();
            }
        }
    }

    fn branch_index(&self, task: &Task, branch: &str) -> usize {
        self.groups
            .get(&task_key(&task.step, task.visit, &Unit::Whole))
            .and_then(|g| g.branches.iter().position(|b| b == branch))
            .unwrap_or(0)
    }

    /// One item or branch ended.
    fn settle_unit(&mut self, task: &Task, index: usize, result: Result<Value, StepError>) {
        let whole = task_key(&task.step, task.visit, &Unit::Whole);
        let Some(group) = self.groups.get_mut(&whole) else {
            return;
        };
        group.settled += 1;
        let failed = match result {
            Ok(v) => {
                if let Some(slot) = group.results.get_mut(index) {
                    *slot = v;
                }
                None
            }
            Err(e) => {
                group.failures += 1;
                Some(e)
            }
        };
        if let Some(e) = failed
            && group.failures > group.tolerated
        {
            let total = group.results.len();
            let failures = group.failures;
            self.groups.remove(&whole);
            let prefix = format!("{}#{}", task.step, task.visit);
            let dropped: Vec<String> = self
                .tasks
                .keys()
                .filter(|k| {
                    k.strip_prefix(&prefix)
                        .is_some_and(|rest| rest.starts_with(['[', '.']))
                })
                .cloned()
                .collect();
            for k in dropped {
                if let Some(child) = self.tasks.remove(&k).and_then(|t| t.child) {
                    self.orphans.push(child);
                }
            }
            let message = if total > 1 {
                format!("{failures} of {total} failed; last: {}", e.message)
            } else {
                e.message
            };
            self.step_failed(&task.step, StepError::new(&e.class, message));
            return;
        }
        if group.next < group.items.len() {
            let i = group.next;
            group.next += 1;
            self.add_task(&task.step, task.visit, Unit::Item(i));
            return;
        }
        if group.settled == group.results.len()
            && let Some(group) = self.groups.remove(&whole)
        {
            let output = if group.branches.is_empty() {
                Value::Array(group.results)
            } else {
                Value::Object(group.branches.into_iter().zip(group.results).collect())
            };
            self.step_succeeded(&task.step, task.visit, output);
        }
    }

    fn step_succeeded(&mut self, name: &str, visit: u32, output: Value) {
        if self.status != Status::Running {
            return;
        }
        let Some(step) = self.def.steps.get(name).cloned() else {
            return;
        };
        self.step_status
            .insert(name.to_string(), StepStatus::Succeeded);
        self.outputs.insert(name.to_string(), output.clone());
        if step.succeed.is_some() || step.handoff.is_some() {
            if let Some(path) = &step.output {
                state::write(&mut self.state, &self.def.state, path, output.clone());
            }
            self.status = Status::Succeeded;
            self.output = Some(output);
            self.abandon_all();
            return;
        }
        if step.choice.is_some() {
            if let Some(next) = output.get("next").and_then(Value::as_str) {
                self.activate(next);
            }
        } else if let Some(path) = &step.output {
            state::write(&mut self.state, &self.def.state, path, output);
        }
        if let Some(target) = &step.compensate {
            self.done.push((format!("{name}#{visit}"), target.clone()));
        }
        if let Some(next) = &step.next {
            self.activate(next);
        }
        self.after_finished(name);
    }

    /// Starts the steps that were waiting for `name` (with `needs`) and may run now.
    fn after_finished(&mut self, name: &str) {
        let ready: Vec<String> = self
            .def
            .steps
            .iter()
            .filter(|(other, s)| {
                s.needs.iter().any(|n| n == name)
                    && !self.visits.contains_key(*other)
                    && !self.is_compensator(other)
                    && s.needs.iter().all(|n| {
                        matches!(
                            self.step_status.get(n),
                            Some(StepStatus::Succeeded | StepStatus::Skipped)
                        )
                    })
            })
            .map(|(other, _)| other.clone())
            .collect();
        for other in ready {
            self.activate(&other);
        }
    }

    fn step_failed(&mut self, name: &str, error: StepError) {
        if self.status != Status::Running {
            return;
        }
        self.step_status
            .insert(name.to_string(), StepStatus::Failed);
        let mut last = error.to_value();
        last["step"] = json!(name);
        self.last_error = Some(last);
        let Some(step) = self.def.steps.get(name).cloned() else {
            return;
        };
        if step.fail.is_none()
            && let Some(rule) = step.catch.iter().find(|r| error.matches(&r.errors))
        {
            self.activate(&rule.next);
            return;
        }
        self.fail_run(error);
    }

    /// Terminal failure: compensations of the finished steps run, newest first.
    fn fail_run(&mut self, error: StepError) {
        self.error = Some(error);
        self.abandon_all();
        self.compensations = self.done.iter().rev().cloned().collect();
        self.status = Status::Compensating;
        self.next_compensation();
    }

    fn next_compensation(&mut self) {
        match self.compensations.pop_front() {
            Some((origin, target)) => {
                let visit = self.visits.get(&target).copied().unwrap_or(0);
                self.add_task(&target, visit, Unit::Compensation { origin });
            }
            None => {
                if self.status == Status::Compensating {
                    self.status = Status::Failed;
                }
            }
        }
    }

    fn abandon_all(&mut self) {
        let children = std::mem::take(&mut self.tasks)
            .into_values()
            .filter_map(|t| t.child);
        self.orphans.extend(children);
        self.groups.clear();
    }

    /// A running run with nothing left to do has succeeded.
    fn settle(&mut self) {
        if self.status == Status::Running && self.tasks.is_empty() {
            self.status = Status::Succeeded;
            let output = match &self.def.output {
                Some(template) => expr::render(template, &self.scope(None)),
                None => Ok(Value::Object(self.state.clone())),
            };
            match output {
                Ok(v) => self.output = Some(v),
                Err(e) => {
                    self.status = Status::Failed;
                    self.error = Some(StepError::bad_input(format!("workflow output: {e}")));
                }
            }
        }
    }
}

/// How many failed items a map tolerates: a count, or a share of `n` (`"50%"`).
fn tolerated(spec: Option<&Value>, n: usize) -> usize {
    match spec {
        Some(Value::Number(count)) => count.as_u64().unwrap_or(0) as usize,
        Some(Value::String(text)) => {
            let share = text
                .trim()
                .trim_end_matches('%')
                .trim()
                .parse::<f64>()
                .unwrap_or(0.0);
            ((share / 100.0) * n as f64).floor() as usize
        }
        _ => 0,
    }
}

#[cfg(test)]
#[path = "fold_tests.rs"]
mod tests;
