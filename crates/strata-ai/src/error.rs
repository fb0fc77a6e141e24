//! The ai layer's errors, in the OpenAI error shape.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Why an ai-layer request failed.
#[derive(Debug, thiserror::Error)]
pub enum AiError {
    #[error("unknown path: {0}")]
    UnknownPath(String),
}

impl AiError {
    fn status(&self) -> StatusCode {
        match self {
            AiError::UnknownPath(_) => StatusCode::NOT_FOUND,
        }
    }

    fn kind(&self) -> (&'static str, &'static str) {
        match self {
            AiError::UnknownPath(_) => ("invalid_request_error", "not_found"),
        }
    }
}

impl IntoResponse for AiError {
    fn into_response(self) -> Response {
        let (kind, code) = self.kind();
        let body = json!({
            "error": { "message": self.to_string(), "type": kind, "param": null, "code": code }
        });
        (self.status(), Json(body)).into_response()
    }
}
