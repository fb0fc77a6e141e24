//! The workflow gateway's config.

use std::collections::BTreeMap;

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
    /// Remote A2A agents: `agent` and `handoff` steps may name them, and callers reach them
    /// through the gateway at `/a2a/{name}` with the gateway's auth, audit and tracing.
    pub agents: Vec<RemoteAgent>,
}

/// A remote agent spoken to over A2A (JSON-RPC, protocol 1.0 or 0.3 as its card says).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RemoteAgent {
    /// Unique among remote agents and workflows.
    pub name: String,
    /// The agent's card: its URL (`…/agent-card.json`), or the agent's base URL, whose card is
    /// read from `{url}/.well-known/agent-card.json`.
    pub card: String,
    /// Headers sent to the agent (its credentials), e.g. `Authorization: "Bearer ${AGENT_KEY}"`.
    /// The caller's own credentials are never forwarded.
    #[serde(default)]
    pub headers: BTreeMap<String, Secret>,
    /// Read the answer as a stream (`SendStreamingMessage`) rather than a blocking send.
    #[serde(default)]
    pub streaming: bool,
    /// How long one message to the agent may take.
    #[serde(default = "default_agent_timeout")]
    pub timeout: Duration,
}

fn default_agent_timeout() -> Duration {
    Duration::from_secs(300)
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
            agents: Vec::new(),
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
