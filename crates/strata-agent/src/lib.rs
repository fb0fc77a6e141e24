//! The workflow gateway: durable multi-step agent workflows, sessions and A2A.
//!
//! This crate is the agent layer's home; definitions, the durable executor and A2A arrive
//! with their issues. Until then every path answers with a JSON 404.

mod error;

use axum::Router;
use strata_config::Config;

pub use error::AgentError;

/// Builds the agent layer's router from the config.
pub fn build(_config: &Config) -> Result<Router, AgentError> {
    Ok(Router::new().fallback(
        |method: axum::http::Method, uri: axum::http::Uri| async move {
            AgentError::UnknownPath(format!("{method} {}", uri.path()))
        },
    ))
}
