//! The agent layer's errors, as JSON.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Why an agent-layer request failed.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("unknown path: {0}")]
    UnknownPath(String),
}

impl AgentError {
    fn status(&self) -> StatusCode {
        match self {
            AgentError::UnknownPath(_) => StatusCode::NOT_FOUND,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            AgentError::UnknownPath(_) => "not_found",
        }
    }
}

impl IntoResponse for AgentError {
    fn into_response(self) -> Response {
        let body = json!({ "error": { "code": self.code(), "message": self.to_string() } });
        (self.status(), Json(body)).into_response()
    }
}
