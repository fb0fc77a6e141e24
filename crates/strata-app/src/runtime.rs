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
}

/// One generation of the config, built.
#[derive(Debug)]
pub struct Runtime {
    pub config: Arc<Config>,
    pub generation: u64,
    /// SHA-256 of the config's source text (or of the embedded defaults).
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
        let mut routers = BTreeMap::new();
        for &layer in layers {
            let router = match layer {
                Layer::Ai => strata_ai::build(&config, &deps.ai).map_err(|e| e.to_string()),
                Layer::Mcp => strata_mcp::build(&config, &deps.mcp).map_err(|e| e.to_string()),
                Layer::Agent => strata_agent::build(&config).map_err(|e| e.to_string()),
            }
            .map_err(|message| AppError::Layer {
                layer: layer.name(),
                message,
            })?;
            routers.insert(layer, router);
        }
        Ok(Self {
            config: Arc::new(config),
            generation,
            digest: hex::encode(Sha256::digest(source.as_bytes())),
            routers,
        })
    }

    /// The router of a served layer.
    #[must_use]
    pub fn router(&self, layer: Layer) -> Option<&Router> {
        self.routers.get(&layer)
    }
}
