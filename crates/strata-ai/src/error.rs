//! The ai layer's errors, each mapped to a status and the OpenAI error shape.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Why an ai-layer request failed.
#[derive(Debug, thiserror::Error)]
pub enum AiError {
    #[error("unknown path: {0}")]
    UnknownPath(String),
    /// The body is not what the API takes.
    #[error("{0}")]
    BadRequest(String),
    /// No key, or not one of ours.
    #[error(
        "invalid API key: send a key of this gateway as `Authorization: Bearer <key>` or `x-api-key: <key>`"
    )]
    Unauthorized,
    /// The body is larger than the gateway accepts.
    #[error("the request body is larger than {0} bytes")]
    TooLarge(usize),
    /// No configured provider serves the model.
    #[error("the model `{0}` does not exist or is not served by this gateway")]
    ModelNotFound(String),
    /// Every candidate provider failed before answering.
    #[error("all providers failed for model `{model}` after {attempts} attempt(s): {last}")]
    Upstream {
        model: String,
        attempts: u32,
        last: String,
    },
}

impl AiError {
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            AiError::UnknownPath(_) | AiError::ModelNotFound(_) => StatusCode::NOT_FOUND,
            AiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AiError::Unauthorized => StatusCode::UNAUTHORIZED,
            AiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AiError::Upstream { .. } => StatusCode::BAD_GATEWAY,
        }
    }

    /// OpenAI's `type` and `code`.
    fn kind(&self) -> (&'static str, Option<&'static str>) {
        match self {
            AiError::UnknownPath(_) => ("invalid_request_error", Some("not_found")),
            AiError::BadRequest(_) => ("invalid_request_error", None),
            AiError::Unauthorized => ("invalid_request_error", Some("invalid_api_key")),
            AiError::TooLarge(_) => ("invalid_request_error", Some("request_too_large")),
            AiError::ModelNotFound(_) => ("invalid_request_error", Some("model_not_found")),
            AiError::Upstream { .. } => ("api_error", Some("upstream_unavailable")),
        }
    }

    /// A short name of the error class (`error.type` in traces and metrics).
    #[must_use]
    pub fn kind_name(&self) -> &'static str {
        match self {
            AiError::UnknownPath(_) => "not_found",
            AiError::BadRequest(_) => "invalid_request",
            AiError::Unauthorized => "unauthorized",
            AiError::TooLarge(_) => "request_too_large",
            AiError::ModelNotFound(_) => "model_not_found",
            AiError::Upstream { .. } => "upstream_unavailable",
        }
    }

    /// The OpenAI error body.
    #[must_use]
    pub fn body(&self) -> serde_json::Value {
        let (kind, code) = self.kind();
        json!({ "error": { "message": self.to_string(), "type": kind, "param": null, "code": code } })
    }
}

impl IntoResponse for AiError {
    fn into_response(self) -> Response {
        (self.status(), Json(self.body())).into_response()
    }
}
