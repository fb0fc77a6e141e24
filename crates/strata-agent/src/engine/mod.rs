//! The durable executor. Runs live in the store; a process executes a run while it holds the
//! run's lease, journaling every step attempt before it moves on. New runs start at once in
//! the process that created them; a loop claims runs that are due (a timer fired, a signal
//! arrived, a child ended, or the process that held them died and its lease ran out).

mod driver;
pub mod event;
mod exec;
pub mod expr;
pub mod fold;
pub mod follow;
pub mod input;
mod retry;
pub mod state;
pub mod window;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use strata_config::Workflow;
use strata_core::Shutdown;
use strata_store::{NewEvent, NewRun, Store, StoreError};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, broadcast};

use crate::clients::{ModelClient, RemoteAgents, ToolClient};
use event::{Event, StepError};
use exec::Attempt;
use fold::Fold;

/// The layers below, as the current config reaches them.
#[derive(Debug, Clone)]
pub struct Clients {
    pub models: Arc<dyn ModelClient>,
    pub tools: Arc<dyn ToolClient>,
    /// Remote A2A agents (`agent.agents`).
    pub agents: Arc<RemoteAgents>,
}

/// Engine settings from the config.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub lease: Duration,
    pub poll: Duration,
}

/// Why an engine operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("no workflow named `{0}`")]
    UnknownWorkflow(String),
    #[error("no run `{0}`")]
    UnknownRun(String),
    #[error("invalid input: {0}")]
    InvalidInput(String),
    #[error("run `{0}` has ended")]
    Ended(String),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The executor of one process.
#[derive(Debug)]
pub struct Engine {
    pub store: Store,
    /// This process's identity in leases.
    pub owner: String,
    settings: ArcSwap<Settings>,
    workflows: ArcSwap<HashMap<String, Arc<Workflow>>>,
    clients: ArcSwap<Option<Clients>>,
    /// Runs this process executes, and how to tell each one something arrived.
    local: Mutex<HashMap<String, Arc<Notify>>>,
    /// Wakes the claim loop.
    wake: Notify,
    /// The id of every run whose journal grew in this process.
    journal: broadcast::Sender<String>,
    slots: Arc<Semaphore>,
    shutdown: Shutdown,
}

impl Engine {
    /// An engine over `store`; call [`Engine::start`] to execute runs.
    #[must_use]
    pub fn new(store: Store, max_runs: usize, shutdown: Shutdown) -> Arc<Self> {
        Arc::new(Self {
            store,
            owner: strata_core::new_id(),
            settings: ArcSwap::from_pointee(Settings {
                lease: Duration::from_secs(15),
                poll: Duration::from_millis(500),
            }),
            workflows: ArcSwap::default(),
            clients: ArcSwap::default(),
            local: Mutex::default(),
            wake: Notify::new(),
            journal: broadcast::channel(1024).0,
            slots: Arc::new(Semaphore::new(max_runs.max(1))),
            shutdown,
        })
    }

    /// Installs a config generation's workflows, clients and settings.
    pub fn configure(&self, workflows: &[Workflow], clients: Clients, settings: Settings) {
        let map = workflows
            .iter()
            .map(|w| (w.name.clone(), Arc::new(w.clone())))
            .collect();
        self.workflows.store(Arc::new(map));
        self.clients.store(Arc::new(Some(clients)));
        self.settings.store(Arc::new(settings));
        self.wake.notify_one();
    }

    /// Starts the claim loop and the lease heartbeat.
    pub fn start(self: &Arc<Self>) {
        let engine = self.clone();
        self.shutdown
            .spawn(async move { engine.claim_loop().await });
        let engine = self.clone();
        self.shutdown.spawn(async move { engine.heartbeat().await });
    }

    /// The workflows of the current config, by name.
    #[must_use]
    pub fn workflows(&self) -> Arc<HashMap<String, Arc<Workflow>>> {
        self.workflows.load_full()
    }

    /// The layers below.
    ///
    /// # Panics
    /// Never after [`Engine::configure`], which `build` calls before serving.
    #[must_use]
    pub fn clients(&self) -> Clients {
        #[allow(clippy::expect_used)]
        self.clients
            .load()
            .as_ref()
            .clone()
            .expect("the engine is configured before it runs anything")
    }

    fn settings(&self) -> Settings {
        **self.settings.load()
    }

    /// Notices of journal growth in this process (run ids), for event streams.
    #[must_use]
    pub fn subscribe(&self) -> broadcast::Receiver<String> {
        self.journal.subscribe()
    }

    /// Starts a run of `workflow`. It runs in this process when a slot is free, otherwise in
    /// whichever process claims it first.
    pub async fn start_run(
        self: &Arc<Self>,
        workflow: &str,
        input: Value,
        principal: Option<String>,
    ) -> Result<String, EngineError> {
        self.start_session_run(workflow, input, principal, None)
            .await
    }

    /// Starts a run in `session` (when given): it waits until the runs of the session started
    /// before it have ended.
    pub async fn start_session_run(
        self: &Arc<Self>,
        workflow: &str,
        input: Value,
        principal: Option<String>,
        session: Option<String>,
    ) -> Result<String, EngineError> {
        let def = self
            .workflows()
            .get(workflow)
            .cloned()
            .ok_or_else(|| EngineError::UnknownWorkflow(workflow.to_string()))?;
        check_input(&def, &input)?;
        let id = strata_core::new_id();
        // A session run is claimed like any other once its turn comes (the store decides).
        let permit = match session {
            None => self.slots.clone().try_acquire_owned().ok(),
            Some(_) => None,
        };
        let now = strata_core::now_ms();
        let mut run = self.new_run(&id, &def, input, principal, now, permit.is_some());
        run.session_id = session;
        self.store.create_run(&run, now).await?;
        match permit {
            Some(permit) => self.spawn_driver(id.clone(), permit),
            None => self.wake.notify_one(),
        }
        Ok(id)
    }

    fn new_run(
        &self,
        id: &str,
        def: &Workflow,
        input: Value,
        principal: Option<String>,
        now: i64,
        owned: bool,
    ) -> NewRun {
        let input_text = input.to_string();
        let started = Event::RunStarted { input };
        NewRun {
            id: id.to_string(),
            workflow: def.name.clone(),
            definition: serde_json::to_string(def).unwrap_or_default(),
            input: input_text,
            state: Value::Object(state::initial(&def.state)).to_string(),
            principal,
            owner: owned.then(|| self.owner.clone()),
            lease_until: owned.then(|| now + self.settings().lease.as_millis() as i64),
            deadline: def.timeout.map(|t| now + t.0.as_millis() as i64),
            events: vec![new_event(&started)],
            ..NewRun::default()
        }
    }

    /// Starts (or finds, when the attempt runs again) the child run of an `agent`,
    /// `workflow` or `handoff` step.
    async fn start_child(
        self: &Arc<Self>,
        at: &Attempt,
        workflow: &str,
        input: Value,
    ) -> Result<String, StepError> {
        let def = self.workflows().get(workflow).cloned().ok_or_else(|| {
            StepError::new("not_found", format!("no workflow named `{workflow}`"))
        })?;
        check_input(&def, &input).map_err(|e| StepError::bad_input(e.to_string()))?;
        let id = derived_id(&at.key);
        let now = strata_core::now_ms();
        let mut run = self.new_run(&id, &def, input, at.principal.clone(), now, false);
        run.parent_id = Some(at.run_id.clone());
        run.parent_task = Some(format!("{}|{}", at.task, at.attempt));
        // The child's work is part of the parent's trace, under the attempt that started it.
        run.trace_id = Some(at.trace.clone());
        self.store
            .create_run(&run, now)
            .await
            .map_err(|e| StepError::new("unavailable", e.to_string()))?;
        self.wake.notify_one();
        Ok(id)
    }

    /// Leaves a message for a run (signal, cancel) and wakes whoever executes it.
    pub async fn tell(&self, run_id: &str, kind: &str, data: &Value) -> Result<(), EngineError> {
        let now = strata_core::now_ms();
        if !self
            .store
            .push_inbox(run_id, kind, &data.to_string(), now)
            .await?
        {
            return Err(match self.store.run(run_id).await? {
                Some(_) => EngineError::Ended(run_id.to_string()),
                None => EngineError::UnknownRun(run_id.to_string()),
            });
        }
        self.poke(run_id);
        Ok(())
    }

    /// Wakes the local executor of `run_id`, or the claim loop.
    fn poke(&self, run_id: &str) {
        let local = self.local.lock().ok().and_then(|l| l.get(run_id).cloned());
        match local {
            Some(notify) => notify.notify_one(),
            None => self.wake.notify_one(),
        }
    }

    /// A new run that replays `source`'s journal up to the first start of `step`, then goes
    /// on from there (the step and everything after it run again).
    pub async fn fork(&self, source: &str, step: &str) -> Result<String, EngineError> {
        let row = self
            .store
            .run(source)
            .await?
            .ok_or_else(|| EngineError::UnknownRun(source.to_string()))?;
        let def: Workflow = serde_json::from_str(&row.definition)
            .map_err(|e| EngineError::Conflict(format!("stored definition: {e}")))?;
        if !def.steps.contains_key(step) {
            return Err(EngineError::Conflict(format!(
                "workflow `{}` has no step `{step}`",
                def.name
            )));
        }
        let events = self.store.run_events(source, 0, i64::MAX).await?;
        let mut prefix = Vec::new();
        let mut cut = false;
        for row in &events {
            let event: Event = serde_json::from_str(&row.data)
                .map_err(|e| EngineError::Conflict(format!("journal: {e}")))?;
            if let Event::StepStarted { task, .. } = &event
                && task_step(task) == step
            {
                cut = true;
                break;
            }
            prefix.push(event);
        }
        if !cut {
            return Err(EngineError::Conflict(format!(
                "step `{step}` never started in run {source}"
            )));
        }
        let id = strata_core::new_id();
        let now = strata_core::now_ms();
        let input: Value = serde_json::from_str(&row.input).unwrap_or(Value::Null);
        let mut fold = Fold::new(
            Arc::new(def.clone()),
            input.clone(),
            run_meta(&id, &def.name),
        );
        for event in &prefix {
            fold.apply(event)
                .map_err(|e| EngineError::Conflict(e.to_string()))?;
        }
        let mut run = self.new_run(&id, &def, input, row.principal.clone(), now, false);
        run.forked_from = Some(source.to_string());
        run.state = Value::Object(fold.state.clone()).to_string();
        run.events = prefix.iter().map(new_event).collect();
        self.store.create_run(&run, now).await?;
        self.wake.notify_one();
        Ok(id)
    }

    fn spawn_driver(self: &Arc<Self>, run_id: String, permit: OwnedSemaphorePermit) {
        let notify = Arc::new(Notify::new());
        if let Ok(mut local) = self.local.lock() {
            local.insert(run_id.clone(), notify.clone());
        }
        let engine = self.clone();
        tokio::spawn(async move {
            driver::drive(&engine, &run_id, notify).await;
            if let Ok(mut local) = engine.local.lock() {
                local.remove(&run_id);
            }
            drop(permit);
            engine.wake.notify_one();
        });
    }

    async fn claim_loop(self: Arc<Self>) {
        loop {
            let free = self.slots.available_permits().min(64);
            if free > 0 {
                let now = strata_core::now_ms();
                let lease = now + self.settings().lease.as_millis() as i64;
                match self
                    .store
                    .claim_runs(&self.owner, now, lease, free as i64)
                    .await
                {
                    Ok(ids) => {
                        for id in ids {
                            match self.slots.clone().try_acquire_owned() {
                                Ok(permit) => self.spawn_driver(id, permit),
                                Err(_) => {
                                    let _ = self.store.release_run(&id, &self.owner).await;
                                }
                            }
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "claiming workflow runs failed"),
                }
            }
            tokio::select! {
                () = self.wake.notified() => {}
                () = tokio::time::sleep(self.settings().poll) => {}
                () = self.shutdown.token().cancelled() => return,
            }
        }
    }

    async fn heartbeat(self: Arc<Self>) {
        loop {
            let lease = self.settings().lease;
            tokio::select! {
                () = tokio::time::sleep(lease / 3) => {}
                () = self.shutdown.token().cancelled() => return,
            }
            let until = strata_core::now_ms() + lease.as_millis() as i64;
            if let Err(e) = self.store.renew_leases(&self.owner, until).await {
                tracing::warn!(error = %e, "renewing workflow run leases failed");
            }
            match self.store.expire_sessions(strata_core::now_ms()).await {
                Ok(0) => {}
                Ok(n) => tracing::debug!(sessions = n, "expired sessions deleted"),
                Err(e) => tracing::warn!(error = %e, "deleting expired sessions failed"),
            }
        }
    }
}

/// Checks a run input against the workflow's input schema.
fn check_input(def: &Workflow, input: &Value) -> Result<(), EngineError> {
    let Some(schema) = &def.input else {
        return Ok(());
    };
    let validator = jsonschema::validator_for(schema)
        .map_err(|e| EngineError::InvalidInput(format!("the workflow's input schema: {e}")))?;
    match validator.iter_errors(input).next() {
        Some(e) => Err(EngineError::InvalidInput(format!(
            "{e} (at `{}`)",
            e.instance_path()
        ))),
        None => Ok(()),
    }
}

/// The `run` scope variable.
#[must_use]
pub fn run_meta(id: &str, workflow: &str) -> Value {
    json!({ "id": id, "workflow": workflow })
}

/// The step a task key belongs to (`draft#1`, `research#2[3]`, `retract@draft#1`).
#[must_use]
pub fn task_step(task: &str) -> &str {
    task.split(['#', '@']).next().unwrap_or(task)
}

/// A stable run id for a child, from the idempotency key of the step attempt that starts it.
fn derived_id(key: &str) -> String {
    let digest = Sha256::digest(key.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes)
        .into_uuid()
        .to_string()
}

/// An event as a journal row.
fn new_event(event: &Event) -> NewEvent {
    NewEvent {
        kind: event.kind().to_string(),
        task: event.task().map(str::to_string),
        data: serde_json::to_string(event).unwrap_or_default(),
    }
}
