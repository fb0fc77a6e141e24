//! What a config turns into: the routers of every served layer. A reload builds a new
//! `Runtime` and swaps it in whole; requests already running keep the one they started with.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use sha2::{Digest, Sha256};
use strata_config::{Config, Layer};

use crate::AppError;

/// What the layers keep across config generations (connection pools and the like).
#[derive(Debug, Clone)]
pub struct LayerDeps {
    pub ai: strata_ai::Deps,
    pub mcp: strata_mcp::Deps,
    /// The workflow engine (present when the agent layer is served).
    pub agent: Option<strata_agent::Deps>,
}

/// One generation of the config, built.
#[derive(Debug)]
pub struct Runtime {
    pub config: Arc<Config>,
    pub generation: u64,
    /// SHA-256 of the config's source text (or of the embedded defaults), and of the OpenAPI
    /// documents it loads, so that a reload notices a changed document.
    pub digest: String,
    routers: BTreeMap<Layer, Router>,
}

impl Runtime {
    /// Builds the routers of `layers` from `config`.
    pub fn build(
        config: Config,
        source: &str,
        generation: u64,
        layers: &[Layer],
        deps: &LayerDeps,
    ) -> Result<Self, AppError> {
        let failed = |layer: Layer| {
            move |message: String| AppError::Layer {
                layer: layer.name(),
                message,
            }
        };
        let mut routers = BTreeMap::new();
        let agent = layers.contains(&Layer::Agent);
        // The agent layer calls the layers below in-process unless the config gives their URL;
        // then they are built even when this process does not serve them.
        let in_process = |layer: Layer, remote: bool| layers.contains(&layer) || (agent && !remote);
        if in_process(Layer::Ai, config.agent.ai.is_some()) {
            let router = strata_ai::build(&config, &deps.ai).map_err(|e| e.to_string());
            routers.insert(Layer::Ai, router.map_err(failed(Layer::Ai))?);
        }
        if in_process(Layer::Mcp, config.agent.mcp.is_some()) {
            let router = strata_mcp::build(&config, &deps.mcp).map_err(|e| e.to_string());
            routers.insert(Layer::Mcp, router.map_err(failed(Layer::Mcp))?);
        }
        if agent {
            // In-process calls are observed like calls over the network (a span continuing
            // the run's trace, request metrics), so one process and three tiers trace alike.
            let observed = |layer: Layer| {
                let metrics = deps.ai.metrics.clone();
                routers
                    .get(&layer)
                    .map(|r| crate::dispatch::with_http_layers(r.clone(), layer.name(), metrics))
            };
            let below = strata_agent::Below {
                ai: observed(Layer::Ai),
                mcp: observed(Layer::Mcp),
            };
            let deps = deps.agent.as_ref().ok_or_else(|| {
                failed(Layer::Agent)("the workflow engine was not started".to_string())
            })?;
            let router = strata_agent::build(&config, deps, below).map_err(|e| e.to_string());
            routers.insert(Layer::Agent, router.map_err(failed(Layer::Agent))?);
        }
        routers.retain(|layer, _| layers.contains(layer));
        Ok(Self {
            digest: digest(source, &config),
            config: Arc::new(config),
            generation,
            routers,
        })
    }

    /// The router of a served layer.
    #[must_use]
    pub fn router(&self, layer: Layer) -> Option<&Router> {
        self.routers.get(&layer)
    }
}

/// SHA-256 of the config text and of the documents of its `openapi` upstreams (the text alone
/// when there are none).
fn digest(source: &str, config: &Config) -> String {
    let mut hasher = Sha256::new();
    hasher.update(source.as_bytes());
    for rest in config.mcp.upstreams.iter().filter_map(|u| u.rest.as_ref()) {
        hasher.update(rest.digest.as_bytes());
    }
    hex::encode(hasher.finalize())
}
