//! The tool gateway: session-aware MCP in front of upstream MCP servers.
//!
//! This crate is the mcp layer's home; the downstream server, upstream clients, sessions and
//! virtual servers arrive with the MCP layer issue. Until then every path answers with a
//! JSON-RPC error.

mod error;

use axum::Router;
use strata_config::Config;

pub use error::McpError;

/// Builds the mcp layer's router from the config.
pub fn build(_config: &Config) -> Result<Router, McpError> {
    Ok(Router::new().fallback(|uri: axum::http::Uri| async move {
        McpError::UnknownServer(uri.path().to_string())
    }))
}
