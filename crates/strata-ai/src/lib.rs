//! The model gateway: OpenAI- and Anthropic-compatible APIs in front of LLM providers.
//!
//! This crate is the ai layer's home. Its request path (authenticate → authorize → limits →
//! guard → route → call provider → guard → account → audit) arrives with the AI layer issue;
//! until then the layer answers every path with an OpenAI-shaped 404.

mod error;

use axum::Router;
use strata_config::Config;

pub use error::AiError;

/// Builds the ai layer's router from the config.
pub fn build(_config: &Config) -> Result<Router, AiError> {
    Ok(Router::new().fallback(
        |method: axum::http::Method, uri: axum::http::Uri| async move {
            AiError::UnknownPath(format!("{method} {}", uri.path()))
        },
    ))
}
