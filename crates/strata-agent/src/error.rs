//! The agent layer's errors, as JSON (`{"error": {"code", "message"}}`) with a status.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::engine::EngineError;

/// Why an agent-layer request failed.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("unknown path: {0}")]
    UnknownPath(String),
    #[error("missing or unknown API key")]
    Unauthorized,
    #[error("{0}")]
    BadRequest(String),
    #[error("no session `{0}`")]
    UnknownSession(String),
    #[error("{0}")]
    Conflict(String),
    #[error("the {0} layer is neither in this process nor configured with a URL")]
    NoLayer(&'static str),
    #[error(transparent)]
    Engine(#[from] EngineError),
}

impl From<strata_store::StoreError> for AgentError {
    fn from(e: strata_store::StoreError) -> Self {
        AgentError::Engine(EngineError::Store(e))
    }
}

impl AgentError {
    fn status(&self) -> StatusCode {
        match self {
            AgentError::UnknownPath(_) => StatusCode::NOT_FOUND,
            AgentError::Unauthorized => StatusCode::UNAUTHORIZED,
            AgentError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AgentError::UnknownSession(_) => StatusCode::NOT_FOUND,
            AgentError::Conflict(_) => StatusCode::CONFLICT,
            AgentError::NoLayer(_) => StatusCode::SERVICE_UNAVAILABLE,
            AgentError::Engine(e) => match e {
                EngineError::UnknownWorkflow(_) | EngineError::UnknownRun(_) => {
                    StatusCode::NOT_FOUND
                }
                EngineError::InvalidInput(_) => StatusCode::UNPROCESSABLE_ENTITY,
                EngineError::Ended(_) | EngineError::Conflict(_) => StatusCode::CONFLICT,
                EngineError::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
            },
        }
    }

    fn code(&self) -> &'static str {
        match self {
            AgentError::UnknownPath(_) => "not_found",
            AgentError::Unauthorized => "unauthorized",
            AgentError::BadRequest(_) => "bad_request",
            AgentError::UnknownSession(_) => "unknown_session",
            AgentError::Conflict(_) => "conflict",
            AgentError::NoLayer(_) => "unavailable",
            AgentError::Engine(e) => match e {
                EngineError::UnknownWorkflow(_) => "unknown_workflow",
                EngineError::UnknownRun(_) => "unknown_run",
                EngineError::InvalidInput(_) => "invalid_input",
                EngineError::Ended(_) => "run_ended",
                EngineError::Conflict(_) => "conflict",
                EngineError::Store(_) => "unavailable",
            },
        }
    }
}

impl IntoResponse for AgentError {
    fn into_response(self) -> Response {
        if let AgentError::Engine(EngineError::Store(e)) = &self {
            tracing::error!(error = %e, "agent layer store error");
        }
        let body = json!({ "error": { "code": self.code(), "message": self.to_string() } });
        (self.status(), Json(body)).into_response()
    }
}
