//! The tool gateway's config: upstream MCP servers and the virtual servers built from them.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use strata_core::Secret;

/// The `mcp` section.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct McpConfig {
    /// Upstream MCP servers.
    pub upstreams: Vec<Upstream>,
    /// Virtual servers, each served at `/mcp/{name}`.
    pub servers: Vec<VirtualServer>,
}

/// An upstream MCP server: a child process (`stdio`) or a URL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Upstream {
    /// Unique name; referenced by virtual servers.
    pub name: String,
    /// Spawn the server as a child process speaking stdio.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdio: Option<StdioUpstream>,
    /// Streamable HTTP (or legacy SSE) endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Headers sent to a URL upstream.
    #[serde(default)]
    pub headers: BTreeMap<String, Secret>,
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
}

/// A virtual server aggregating upstreams.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VirtualServer {
    /// Unique name; the server is served at `/mcp/{name}`.
    pub name: String,
    /// Upstream names.
    pub upstreams: Vec<String>,
    /// Whether tool names carry the upstream's name as a prefix.
    #[serde(default)]
    pub prefix: PrefixMode,
    /// Tool allow/deny globs.
    #[serde(default)]
    pub tools: ToolFilter,
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

/// Which tools a virtual server exposes. Deny wins.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ToolFilter {
    pub allow: Vec<String>,
    pub deny: Vec<String>,
}
