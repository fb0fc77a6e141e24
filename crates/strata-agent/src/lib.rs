//! The workflow gateway: durable multi-step agent workflows.
//!
//! `engine` is the durable executor (a fold over each run's journal, a driver per run, leases
//! for several processes), `clients` reach the ai and mcp layers (in-process or over HTTP),
//! `api` is the HTTP surface and `view` turns a journal into what people read.

pub mod a2a;
pub mod api;
pub mod clients;
pub mod conversation;
pub mod engine;
mod error;
mod otel;
pub mod replay;
pub mod trace;
pub mod view;

use std::sync::Arc;

use axum::Router;
use strata_config::{Config, RemoteLayer};
use strata_core::Shutdown;
use strata_store::{AuditRecord, BatchWriter, Store};

pub use engine::{Engine, EngineError};
pub use error::AgentError;

use clients::{Http, InProcess, LayerModels, LayerTools, RemoteAgents, Transport};

/// What the layer keeps across config generations: the engine and its running runs.
#[derive(Debug, Clone)]
pub struct Deps {
    pub engine: Arc<Engine>,
    http: reqwest::Client,
    /// Where proxied A2A requests are audited.
    audit: Option<BatchWriter<AuditRecord>>,
}

impl Deps {
    /// An engine over `store`; it executes runs once [`Deps::start`] is called.
    #[must_use]
    pub fn new(store: Store, config: &Config, shutdown: Shutdown) -> Self {
        let max = config.agent.max_concurrent_runs as usize;
        Self {
            engine: Engine::new(store, max, shutdown),
            http: reqwest::Client::new(),
            audit: None,
        }
    }

    /// Audits requests proxied to remote agents through `writer`.
    #[must_use]
    pub fn with_audit(mut self, writer: BatchWriter<AuditRecord>) -> Self {
        self.audit = Some(writer);
        self
    }

    /// Starts executing runs (claiming due ones, renewing leases).
    pub fn start(&self) {
        self.engine.start();
    }
}

/// The ai and mcp layers' routers of this config generation, for in-process calls.
#[derive(Debug, Default)]
pub struct Below {
    pub ai: Option<Router>,
    pub mcp: Option<Router>,
}

/// Builds the agent layer's router from the config, and points the engine at this
/// generation's workflows and layers.
pub fn build(config: &Config, deps: &Deps, below: Below) -> Result<Router, AgentError> {
    let transport = |remote: &Option<RemoteLayer>, local: Option<Router>, name| {
        Ok::<Arc<dyn Transport>, AgentError>(match (remote, local) {
            (Some(r), _) => Arc::new(Http::new(deps.http.clone(), &r.url, r.key.clone())),
            (None, Some(router)) => Arc::new(InProcess::new(router)),
            (None, None) => return Err(AgentError::NoLayer(name)),
        })
    };
    let agents = Arc::new(RemoteAgents::new(deps.http.clone(), &config.agent.agents));
    let clients = engine::Clients {
        models: Arc::new(LayerModels::new(transport(
            &config.agent.ai,
            below.ai,
            "ai",
        )?)),
        tools: Arc::new(LayerTools::new(transport(
            &config.agent.mcp,
            below.mcp,
            "mcp",
        )?)),
        agents: agents.clone(),
    };
    deps.engine.configure(
        &config.workflows,
        clients,
        engine::Settings {
            lease: config.agent.lease.0,
            poll: config.agent.poll_interval.0,
        },
    );
    let keys = || strata_policy::ApiKeys::new(&config.auth.keys);
    let a2a = a2a::router(a2a::Parts {
        engine: deps.engine.clone(),
        keys: keys(),
        settings: a2a::Settings {
            public_url: config.agent.public_url.clone(),
            session_ttl: config.agent.session_ttl.0,
            blocking_timeout: config.agent.a2a_blocking_timeout.0,
        },
        agents,
        audit: deps.audit.clone(),
    });
    Ok(api::router(deps.engine.clone(), keys(), config.agent.session_ttl.0).merge(a2a))
}
