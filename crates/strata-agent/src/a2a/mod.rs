//! The A2A server (protocol 1.0, and 0.3 for requests without `A2A-Version`): every workflow
//! is an agent at `/a2a/{workflow}` with its card at
//! `/a2a/{workflow}/.well-known/agent-card.json`, over the JSON-RPC binding (POST to the agent's
//! URL) and the HTTP+JSON binding (`/message:send`, `/tasks/{id}`, …). Tasks are persisted runs
//! in a session (the `contextId`); a waiting `human` step is `TASK_STATE_INPUT_REQUIRED` and the
//! next message to the task answers it.

mod card;
pub mod error;
mod jsonrpc;
mod ops;
mod proxy;
mod rest;
mod stream;
pub mod task;
pub mod wire;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::HeaderMap;
use axum::routing::{get, post};
use strata_policy::ApiKeys;
use strata_store::{AuditRecord, BatchWriter};

use crate::clients::RemoteAgents;
use crate::engine::Engine;
use error::A2aError;
use wire::Version;

/// What every A2A handler shares.
#[derive(Debug)]
pub struct A2a {
    pub engine: Arc<Engine>,
    keys: ApiKeys,
    settings: Settings,
    /// Remote agents, proxied at `/a2a/{name}`.
    agents: Arc<RemoteAgents>,
    audit: Option<BatchWriter<AuditRecord>>,
}

/// The agent layer's A2A settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub public_url: Option<String>,
    pub session_ttl: Duration,
    pub blocking_timeout: Duration,
}

/// One request: which agent, who calls, in which protocol version.
#[derive(Debug, Clone)]
pub struct Call {
    pub a2a: Arc<A2a>,
    pub workflow: String,
    pub principal: Option<String>,
    pub version: Version,
}

impl A2a {
    /// Who calls: the key's name, or `None` when no keys are configured.
    fn principal(&self, headers: &HeaderMap) -> Result<Option<String>, A2aError> {
        if !self.keys.enabled() {
            return Ok(None);
        }
        strata_policy::presented_key(headers)
            .and_then(|k| self.keys.verify(k))
            .map(|id| Some(id.name.clone()))
            .ok_or(A2aError::Unauthorized)
    }

    /// Checks the caller and the agent; the call every operation runs in.
    fn call(self: &Arc<Self>, workflow: String, headers: &HeaderMap) -> Result<Call, A2aError> {
        let principal = self.principal(headers)?;
        if !self.engine.workflows().contains_key(&workflow) {
            return Err(A2aError::MethodNotFound(format!(
                "no agent named `{workflow}`"
            )));
        }
        Ok(Call {
            a2a: self.clone(),
            workflow,
            principal,
            version: Version::of(headers)?,
        })
    }
}

/// What the A2A routes are built from.
#[derive(Debug)]
pub struct Parts {
    pub engine: Arc<Engine>,
    pub keys: ApiKeys,
    pub settings: Settings,
    pub agents: Arc<RemoteAgents>,
    pub audit: Option<BatchWriter<AuditRecord>>,
}

/// The A2A routes: the workflows' agents, and the proxied remote agents.
pub fn router(parts: Parts) -> Router {
    let a2a = Arc::new(A2a {
        engine: parts.engine,
        keys: parts.keys,
        settings: parts.settings,
        agents: parts.agents,
        audit: parts.audit,
    });
    Router::new()
        .route("/a2a/{workflow}", post(jsonrpc::handle))
        .route(
            "/a2a/{workflow}/.well-known/agent-card.json",
            get(card::handle),
        )
        .route("/a2a/{workflow}/message:send", post(rest::send))
        .route("/a2a/{workflow}/message:stream", post(rest::send_streaming))
        .route("/a2a/{workflow}/tasks", get(rest::list))
        .route(
            "/a2a/{workflow}/tasks/{task}",
            get(rest::get).post(rest::task_action),
        )
        .layer(axum::middleware::from_fn_with_state(
            a2a.clone(),
            proxy::route,
        ))
        .with_state(a2a)
}
