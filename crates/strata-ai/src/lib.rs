//! The model gateway: OpenAI- and Anthropic-compatible APIs in front of LLM providers.
//!
//! The request path reads top to bottom in `ingress.rs` then `dispatch.rs`: authenticate,
//! peek at the routing fields, list the candidates (a route's strategy, or providers by
//! priority with their fallback chains), call each until one answers (translating when the
//! client's and the provider's APIs differ), stream the answer back while accounting watches
//! it. Authorization, limits, budgets and guardrails join that path with the governance work.

mod accounting;
mod anthropic;
mod content;
mod convert;
mod dispatch;
mod error;
mod gemini;
pub mod govern;
mod ingress;
pub mod mock;
mod models;
pub mod pricing;
mod provider;
mod resilience;
mod responses;
mod routes;
mod sse;
mod tokens;
mod upstream;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use convert::Format;
use strata_config::Config;
use upstream::Operation;

pub use anthropic::{StreamToOpenAi, StreamTranslator};
pub use convert::StreamConvert;
pub use error::AiError;
pub use provider::{Candidate, Provider, Providers};

/// What the layer keeps across config generations: the HTTP client (and its connection
/// pool) of providers with the default connect timeout.
#[derive(Debug, Clone)]
pub struct Deps {
    pub http: reqwest::Client,
    pub metrics: strata_telemetry::Metrics,
    /// Observed latency per provider/model, for the latency and SLA strategies.
    pub stats: Arc<routes::Stats>,
    /// Limits, budgets, stored keys and the usage ledger, kept across generations.
    pub governance: govern::Shared,
}

impl Deps {
    /// A client with pooled keep-alive connections and the default connect timeout, and the
    /// registry model-call metrics go to.
    #[must_use]
    pub fn new(metrics: strata_telemetry::Metrics) -> Self {
        Self {
            http: provider::client(strata_config::Timeouts::default().connect.0),
            metrics,
            stats: Arc::default(),
            governance: govern::Shared::default(),
        }
    }

    /// The same, with governance state shared with the rest of the process.
    #[must_use]
    pub fn with_governance(mut self, governance: govern::Shared) -> Self {
        self.governance = governance;
        self
    }
}

/// One config generation of the ai layer.
#[derive(Debug)]
pub struct Gateway {
    pub providers: Providers,
    pub routes: routes::Routes,
    pub stats: Arc<routes::Stats>,
    pub retry: strata_config::Retry,
    pub breakers: resilience::Breakers,
    pub metrics: strata_telemetry::Metrics,
    /// Keys, model access, limits, budgets, guardrails, prices.
    pub gov: govern::Governance,
}

impl Gateway {
    /// The attempts for a model name: a route's targets in its strategy's order, or the
    /// providers serving the name with their fallbacks.
    #[must_use]
    pub fn candidates(&self, model: &str) -> Vec<Candidate> {
        self.routes
            .candidates(model, &self.breakers)
            .unwrap_or_else(|| self.providers.candidates(model))
    }
}

/// Builds the ai layer's router from the config.
pub fn build(config: &Config, deps: &Deps) -> Result<Router, AiError> {
    let providers = Providers::new(
        &config.ai.providers,
        &|var| std::env::var(var).ok(),
        &deps.http,
    );
    let gateway = Arc::new(Gateway {
        routes: routes::Routes::new(&config.ai.routes, &providers, deps.stats.clone()),
        stats: deps.stats.clone(),
        providers,
        retry: config.ai.retry.clone(),
        breakers: resilience::Breakers::new(config.ai.circuit_breaker.clone()),
        metrics: deps.metrics.clone(),
        gov: govern::Governance::new(
            config,
            deps.governance.clone(),
            deps.http.clone(),
            deps.metrics.clone(),
        )?,
    });
    Ok(Router::new()
        .route(
            "/v1/chat/completions",
            ingress::route(Operation::Chat, Format::OpenAi),
        )
        .route(
            "/chat/completions",
            ingress::route(Operation::Chat, Format::OpenAi),
        )
        .route(
            "/v1/messages",
            ingress::route(Operation::Chat, Format::Anthropic),
        )
        .route("/v1/messages/count_tokens", post(anthropic::count_tokens))
        .route(
            "/v1/responses",
            ingress::route(Operation::Chat, Format::Responses),
        )
        .route(
            "/responses",
            ingress::route(Operation::Chat, Format::Responses),
        )
        .route(
            "/v1/embeddings",
            ingress::route(Operation::Embeddings, Format::OpenAi),
        )
        .route(
            "/embeddings",
            ingress::route(Operation::Embeddings, Format::OpenAi),
        )
        .route("/v1/models", get(models::list))
        .route("/models", get(models::list))
        .layer(axum::extract::DefaultBodyLimit::max(
            ingress::MAX_REQUEST_BYTES,
        ))
        .fallback(|method: http::Method, uri: http::Uri| async move {
            AiError::UnknownPath(format!("{method} {}", uri.path()))
        })
        .with_state(gateway))
}
