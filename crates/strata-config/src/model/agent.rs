//! The workflow gateway's config.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use strata_core::Secret;

use super::duration::Duration;

/// The `agent` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct AgentConfig {
    /// Workflow definition files (globs, relative to the config file).
    pub workflows: Vec<String>,
    /// The ai layer: in-process when absent, over HTTP when set.
    pub ai: Option<RemoteLayer>,
    /// The mcp layer: in-process when absent, over HTTP when set.
    pub mcp: Option<RemoteLayer>,
    /// A process owns a run it executes for this long and renews it while alive; when it dies
    /// another process takes the run over after the lease runs out.
    pub lease: Duration,
    /// How often idle workers look for runs that are ready (timers due, leases expired, work
    /// signalled by other processes).
    pub poll_interval: Duration,
    /// Most runs one process executes at once.
    pub max_concurrent_runs: u32,
}

impl Default for AgentConfig {
    fn default() -> Self {
        Self {
            workflows: Vec::new(),
            ai: None,
            mcp: None,
            lease: Duration::from_secs(15),
            poll_interval: Duration::from_millis(500),
            max_concurrent_runs: 256,
        }
    }
}

/// A layer reached over HTTP with the agent layer's own credentials.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RemoteLayer {
    pub url: String,
    pub key: Secret,
}
