//! The tool gateway's config: upstream MCP servers and the virtual servers built from them.

use std::collections::BTreeMap;
use std::sync::Arc;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use strata_core::Secret;

use super::duration::Duration;
use super::rest::{HttpUpstream, OpenApiUpstream, RestTools};

/// The `mcp` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct McpConfig {
    /// Upstream MCP servers.
    pub upstreams: Vec<Upstream>,
    /// Virtual servers, each served at `/mcp/{name}`.
    pub servers: Vec<VirtualServer>,
    /// A downstream session with no traffic for this long ends (its stdio children are reaped).
    pub session_idle_timeout: Duration,
    /// `Host` header values accepted besides the local names (`localhost`, `127.0.0.1`, `[::1]`,
    /// with any port). Protects against DNS rebinding; add the names clients use to reach you.
    pub allowed_hosts: Vec<String>,
    /// `Origin` values accepted besides local ones (`http://localhost:*`, `http://127.0.0.1:*`).
    /// A request with any other `Origin` gets 403.
    pub allowed_origins: Vec<String>,
    /// The public base URL clients reach this gateway at (e.g. `https://tools.example.com`):
    /// a virtual server's resource URI is `{public_url}/mcp/{name}`, the audience access
    /// tokens must carry. Without it, only `auth.jwt.audiences` are accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
    /// How the other replicas reach this process's mcp listener (e.g. `http://10.0.0.5:4001`),
    /// for the session directory they share through `storage.redis`; default: the listener's
    /// own address (which must then not be `0.0.0.0`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advertise_url: Option<String>,
}

impl Default for McpConfig {
    fn default() -> Self {
        Self {
            upstreams: Vec::new(),
            servers: Vec::new(),
            session_idle_timeout: Duration::from_secs(30 * 60),
            allowed_hosts: Vec::new(),
            allowed_origins: Vec::new(),
            public_url: None,
            advertise_url: None,
        }
    }
}

/// An upstream MCP server: a child process (`stdio`), a URL, a built-in server, or a REST API
/// served as tools (`openapi`, `http`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Upstream {
    /// Unique name; referenced by virtual servers.
    pub name: String,
    /// Spawn the server as a child process speaking stdio (one per downstream session).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdio: Option<StdioUpstream>,
    /// Streamable HTTP (or legacy SSE, see `transport`) endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// A server built into the binary, served in-process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub builtin: Option<Builtin>,
    /// A REST API described by an OpenAPI document: each selected operation is a tool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub openapi: Option<OpenApiUpstream>,
    /// REST endpoints declared by hand, one tool each.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpUpstream>,
    /// The tools of an `openapi` or `http` upstream, compiled when the config is loaded.
    #[serde(skip)]
    #[schemars(skip)]
    pub rest: Option<Arc<RestTools>>,
    /// How to speak to `url`.
    #[serde(default)]
    pub transport: UrlTransport,
    /// Headers sent to a URL upstream (and with every request of an `openapi` or `http` one).
    #[serde(default)]
    pub headers: BTreeMap<String, Secret>,
    /// How long one request to this upstream may take before it is cancelled (for `openapi`
    /// and `http` upstreams: the HTTP call, a little less so its error gets back in time).
    #[serde(default = "default_request_timeout")]
    pub timeout: Duration,
    /// Tell a URL upstream who is calling, in headers named here (the caller's own token is
    /// never forwarded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forward_identity: Option<ForwardIdentity>,
}

/// Headers that carry the caller's identity to an upstream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ForwardIdentity {
    /// Header for the principal's name (e.g. `X-Strata-Principal`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    /// Header for the principal's roles, comma-separated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<String>,
}

fn default_request_timeout() -> Duration {
    Duration::from_secs(60)
}

/// The MCP servers built into the binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Builtin {
    /// Tools `echo`, `add` and `current_time`, the resource `demo://readme`, the prompt `greet`:
    /// something to call in the quickstart with no network and nothing installed.
    Demo,
}

/// The HTTP transport of a URL upstream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum UrlTransport {
    /// Streamable HTTP (protocol revisions 2025-03-26 and later).
    #[default]
    StreamableHttp,
    /// The legacy HTTP+SSE transport (2024-11-05): GET an event stream, POST to its endpoint.
    Sse,
}

/// How to spawn a stdio upstream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StdioUpstream {
    pub command: String,
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub env: BTreeMap<String, Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    /// At most this many children of this upstream run at once (one per downstream session);
    /// a session beyond that is refused.
    #[serde(default = "default_max_processes")]
    pub max_processes: u32,
}

fn default_max_processes() -> u32 {
    64
}

/// A virtual server aggregating upstreams.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VirtualServer {
    /// Unique name; the server is served at `/mcp/{name}`.
    #[schemars(regex(pattern = r"^[A-Za-z0-9_.-]{1,64}$"))]
    pub name: String,
    /// Upstream names.
    pub upstreams: Vec<String>,
    /// Whether tool and prompt names carry the upstream's name as a prefix.
    #[serde(default)]
    pub prefix: PrefixMode,
    /// Which tools are exposed, and under which names.
    #[serde(default)]
    pub tools: ToolFilter,
    /// Instructions sent to clients in place of the upstreams' own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
    /// Whether clients must authenticate (when `auth` has keys or JWT): `required`
    /// (default) or `off`.
    #[serde(default)]
    pub auth: ServerAuth,
    /// OAuth scopes an access token must carry to use this server (403
    /// `insufficient_scope` otherwise); API keys are not scoped.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Per-principal rate limits of tools.
    #[serde(default)]
    pub limits: Vec<ToolLimit>,
    /// What the audit log keeps of this server's calls.
    #[serde(default)]
    pub audit: ServerAudit,
}

/// A rate limit that every principal has on its own for each tool matched by `tools`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ToolLimit {
    /// Tool names as clients see them (globs).
    pub tools: Vec<String>,
    /// Calls per minute per principal and tool.
    pub rpm: u64,
}

/// The audit settings of a virtual server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ServerAudit {
    /// Whether operations on this server are audited (default true; `strata doctor` warns
    /// when it is off).
    pub enabled: bool,
    /// How a call's arguments are kept.
    pub arguments: ArgumentsAudit,
}

impl Default for ServerAudit {
    fn default() -> Self {
        Self {
            enabled: true,
            arguments: ArgumentsAudit::default(),
        }
    }
}

/// How arguments are written to the audit log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ArgumentsAudit {
    /// As sent.
    Full,
    /// With personal data and secrets replaced by typed placeholders (the `pii_redaction`
    /// guardrail's detectors).
    #[default]
    Redacted,
    /// The SHA-256 of the canonical JSON only.
    Hash,
    /// Not at all.
    None,
}

/// Authentication of a virtual server's clients.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ServerAuth {
    /// A key or a JWT is required whenever any is configured.
    #[default]
    Required,
    /// Anyone may connect.
    Off,
}

/// Prefixing of merged names.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PrefixMode {
    Always,
    /// Only when the server has more than one upstream.
    #[default]
    Conditional,
    Never,
}

/// Which tools a virtual server exposes. Deny wins. Globs match the upstream's own tool name,
/// or `upstream/tool`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ToolFilter {
    pub allow: Vec<String>,
    pub deny: Vec<String>,
    /// Per tool (keyed by `upstream/tool` or the bare tool name): a new name or description.
    pub overrides: BTreeMap<String, ToolOverride>,
}

/// A tool's exposed name and description, replacing the upstream's.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ToolOverride {
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[A-Za-z0-9_-]{1,64}$"))]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}
