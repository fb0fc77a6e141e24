//! The config file's shape. Every struct rejects unknown keys; the JSON Schema printed by
//! `strata schema` is generated from these types.

mod agent;
mod ai;
mod auth;
mod duration;
mod mcp;
mod rest;
mod workflow;

use std::net::SocketAddr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use strata_core::Secret;

pub use agent::{AgentConfig, RemoteAgent, RemoteLayer};
pub use ai::{
    AiConfig, Cache, CircuitBreaker, FailMode, GuardAction, GuardSide, Guardrail, GuardrailKind,
    ModelPrice, Objective, PiiEntity, Priority, PriorityLevel, Provider, ProviderKind, Retry,
    Route, RouteTarget, Strategy, Timeouts, TokenPrice,
};
pub use auth::{
    AccessRule, ApiKey, Auth, Budget, BudgetPeriod, Effect, Jwt, KeyLimits, McpGrants, Role, Team,
};
pub use duration::Duration;
pub use mcp::{
    ArgumentsAudit, Builtin, ForwardIdentity, McpConfig, PrefixMode, ServerAudit, ServerAuth,
    StdioUpstream, ToolFilter, ToolLimit, ToolOverride, Upstream, UrlTransport, VirtualServer,
};
pub use rest::{
    HttpMethod, HttpTool, HttpUpstream, OpenApiUpstream, OperationSelector, ParamLocation,
    RestAuth, RestBody, RestParam, RestTool, RestTools,
};
pub use workflow::{
    AgentCall, Branch, CatchRule, ChoiceRule, ContextWindow, ERROR_CLASSES, Fail, Handoff, Human,
    LlmCall, MapSpec, Parallel, Reducer, RetryRule, StateKey, Step, StepDefaults, SubWorkflow,
    Succeed, ToolCall, Wait, WindowStrategy, Workflow,
};

/// The whole config file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where each layer and the admin endpoints listen.
    pub listeners: Listeners,
    /// The durable store and the optional shared Redis.
    pub storage: Storage,
    /// API keys, JWT validation and roles, shared by every layer.
    pub auth: Auth,
    /// The model gateway.
    pub ai: AiConfig,
    /// The tool gateway.
    pub mcp: McpConfig,
    /// The workflow gateway.
    pub agent: AgentConfig,
    /// Traces and logs.
    pub telemetry: Telemetry,
    /// Process-wide HTTP server settings.
    pub server: Server,
    /// The admin API and console.
    pub admin: Admin,
    /// The workflows `agent.workflows` names, loaded and checked with the config file.
    #[serde(skip)]
    #[schemars(skip)]
    pub workflows: Vec<Workflow>,
}

/// One listener per layer, plus admin. Each is `IP:PORT`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Listeners {
    /// Model gateway (OpenAI and Anthropic APIs).
    pub ai: String,
    /// Tool gateway (MCP).
    pub mcp: String,
    /// Workflow gateway (runs, sessions, A2A).
    pub agent: String,
    /// Health, readiness, metrics, admin API and console.
    pub admin: String,
}

impl Default for Listeners {
    fn default() -> Self {
        Self {
            ai: "127.0.0.1:4000".into(),
            mcp: "127.0.0.1:4001".into(),
            agent: "127.0.0.1:4002".into(),
            admin: "127.0.0.1:4003".into(),
        }
    }
}

/// The layers Strata can serve, plus the admin listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Layer {
    Ai,
    Mcp,
    Agent,
}

impl Layer {
    /// Every layer, bottom to top.
    pub const ALL: [Layer; 3] = [Layer::Ai, Layer::Mcp, Layer::Agent];

    /// The name used in config, flags, metrics and logs.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Layer::Ai => "ai",
            Layer::Mcp => "mcp",
            Layer::Agent => "agent",
        }
    }

    /// Parses a layer name as written in `--layers`.
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|l| l.name() == name)
    }
}

impl Listeners {
    /// The configured address of a layer's listener (validated at load).
    #[must_use]
    pub fn layer(&self, layer: Layer) -> &str {
        match layer {
            Layer::Ai => &self.ai,
            Layer::Mcp => &self.mcp,
            Layer::Agent => &self.agent,
        }
    }

    /// A listener address as a socket address. Loading has already rejected bad ones.
    pub fn parse(addr: &str) -> Result<SocketAddr, std::net::AddrParseError> {
        addr.parse()
    }
}

/// The durable store and shared state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Storage {
    /// `sqlite://PATH` (default `sqlite://strata.db`, created on first start) or
    /// `postgres://USER@HOST/DB` for several replicas.
    pub url: Secret,
    /// `redis://HOST:PORT`: shared rate limits, budgets, session directory and cache.
    pub redis: Option<Secret>,
    /// Most connections the pool opens.
    pub max_connections: u32,
    /// Audit records older than this are deleted (checked hourly); unset: kept forever.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit_retention: Option<Duration>,
    /// Folder of the local spool files that keep audit and usage records safe from a crash
    /// until they are committed; default: `PATH.spool` beside a SQLite file, `strata-spool`
    /// in the working directory for Postgres.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spool_dir: Option<String>,
}

impl Default for Storage {
    fn default() -> Self {
        Self {
            url: Secret::new("sqlite://strata.db"),
            redis: None,
            max_connections: 10,
            audit_retention: None,
            spool_dir: None,
        }
    }
}

/// Tracing and logging.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Telemetry {
    /// OTLP trace export; off when absent.
    pub otlp: Option<Otlp>,
}

/// OTLP/HTTP (protobuf) trace export.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Otlp {
    /// The collector's traces URL, e.g. `http://127.0.0.1:4318/v1/traces`.
    pub endpoint: String,
    /// Headers sent with every export (e.g. an API key of the collector).
    #[serde(default)]
    pub headers: std::collections::BTreeMap<String, Secret>,
    /// `service.name` of the exported spans.
    #[serde(default = "default_service_name")]
    pub service_name: String,
}

fn default_service_name() -> String {
    "strata".into()
}

/// Process-wide HTTP server settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Server {
    /// How long a shutdown waits for in-flight requests and streams before cutting them.
    pub drain_timeout: Duration,
}

impl Default for Server {
    fn default() -> Self {
        Self {
            drain_timeout: Duration::from_secs(30),
        }
    }
}

/// The admin API (`/admin/api/...`) and console.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Admin {
    /// Bearer key required by `/admin/api/...`. When absent the admin API is open to anyone
    /// who can reach the admin listener (keep it on loopback then).
    pub key: Option<Secret>,
}
