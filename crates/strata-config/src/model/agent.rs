//! The workflow gateway's config.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use strata_core::Secret;

/// The `agent` section.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct AgentConfig {
    /// Workflow definition files (globs, relative to the config file).
    pub workflows: Vec<String>,
    /// The ai layer: in-process when absent, over HTTP when set.
    pub ai: Option<RemoteLayer>,
    /// The mcp layer: in-process when absent, over HTTP when set.
    pub mcp: Option<RemoteLayer>,
}

/// A layer reached over HTTP with the agent layer's own credentials.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RemoteLayer {
    pub url: String,
    pub key: Secret,
}
