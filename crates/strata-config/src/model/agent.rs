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
    /// A session (A2A `contextId`) unused for this long is deleted with its messages.
    pub session_ttl: Duration,
    /// The agent layer's address as its clients reach it (e.g. `https://agents.example.com`),
    /// used in agent cards; by default the request's `Host`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
    /// How long a blocking A2A `SendMessage` waits for the task to finish or ask for input
    /// before it answers with the task as it stands.
    pub a2a_blocking_timeout: Duration,
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
            session_ttl: Duration::from_secs(24 * 3600),
            public_url: None,
            a2a_blocking_timeout: Duration::from_secs(120),
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
