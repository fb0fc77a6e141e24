//! A2A errors (spec §5.4): one type, mapped to a JSON-RPC error code and to an HTTP status
//! with a `google.rpc.Status` body, so both bindings report the same failure the same way.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::EngineError;

/// Why an A2A request failed.
#[derive(Debug, thiserror::Error)]
pub enum A2aError {
    #[error("task not found: {0}")]
    TaskNotFound(String),
    #[error("task {0} cannot be canceled: it has ended")]
    TaskNotCancelable(String),
    #[error("push notifications are not supported")]
    PushNotSupported,
    #[error("{0}")]
    Unsupported(String),
    #[error("content type not supported: {0}")]
    ContentType(String),
    #[error("A2A version {0} is not supported (this agent speaks 1.0 and 0.3)")]
    VersionNotSupported(String),
    #[error("invalid params: {0}")]
    InvalidParams(String),
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    #[error("method not found: {0}")]
    MethodNotFound(String),
    #[error("parse error: {0}")]
    Parse(String),
    #[error("missing or unknown API key")]
    Unauthorized,
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<EngineError> for A2aError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::UnknownRun(id) => A2aError::TaskNotFound(id),
            EngineError::UnknownWorkflow(w) => A2aError::MethodNotFound(format!("agent {w}")),
            EngineError::InvalidInput(m) => A2aError::InvalidParams(m),
            EngineError::Ended(id) => {
                A2aError::Unsupported(format!("task {id} has ended; start a new task"))
            }
            EngineError::Conflict(m) => A2aError::InvalidRequest(m),
            EngineError::Store(e) => A2aError::Internal(e.to_string()),
        }
    }
}

impl From<strata_store::StoreError> for A2aError {
    fn from(e: strata_store::StoreError) -> Self {
        A2aError::Internal(e.to_string())
    }
}

impl A2aError {
    /// The JSON-RPC error code.
    #[must_use]
    pub fn code(&self) -> i64 {
        match self {
            A2aError::TaskNotFound(_) => -32001,
            A2aError::TaskNotCancelable(_) => -32002,
            A2aError::PushNotSupported => -32003,
            A2aError::Unsupported(_) => -32004,
            A2aError::ContentType(_) => -32005,
            A2aError::VersionNotSupported(_) => -32009,
            A2aError::InvalidParams(_) => -32602,
            A2aError::InvalidRequest(_) => -32600,
            A2aError::MethodNotFound(_) => -32601,
            A2aError::Parse(_) => -32700,
            // Not an A2A code: authentication happens before the protocol (HTTP 401).
            A2aError::Unauthorized => -32600,
            A2aError::Internal(_) => -32603,
        }
    }

    /// HTTP status, gRPC status name and `ErrorInfo.reason` for the HTTP+JSON binding.
    fn http(&self) -> (StatusCode, &'static str, &'static str) {
        use StatusCode as S;
        match self {
            A2aError::TaskNotFound(_) => (S::NOT_FOUND, "NOT_FOUND", "TASK_NOT_FOUND"),
            A2aError::TaskNotCancelable(_) => {
                (S::BAD_REQUEST, "FAILED_PRECONDITION", "TASK_NOT_CANCELABLE")
            }
            A2aError::PushNotSupported => (
                S::BAD_REQUEST,
                "FAILED_PRECONDITION",
                "PUSH_NOTIFICATION_NOT_SUPPORTED",
            ),
            A2aError::Unsupported(_) => (
                S::BAD_REQUEST,
                "FAILED_PRECONDITION",
                "UNSUPPORTED_OPERATION",
            ),
            A2aError::ContentType(_) => (
                S::BAD_REQUEST,
                "INVALID_ARGUMENT",
                "CONTENT_TYPE_NOT_SUPPORTED",
            ),
            A2aError::VersionNotSupported(_) => (
                S::BAD_REQUEST,
                "FAILED_PRECONDITION",
                "VERSION_NOT_SUPPORTED",
            ),
            A2aError::InvalidParams(_) => (S::BAD_REQUEST, "INVALID_ARGUMENT", "INVALID_PARAMS"),
            A2aError::InvalidRequest(_) | A2aError::Parse(_) => {
                (S::BAD_REQUEST, "INVALID_ARGUMENT", "INVALID_REQUEST")
            }
            A2aError::MethodNotFound(_) => (S::NOT_FOUND, "NOT_FOUND", "METHOD_NOT_FOUND"),
            A2aError::Unauthorized => (S::UNAUTHORIZED, "UNAUTHENTICATED", "UNAUTHENTICATED"),
            A2aError::Internal(_) => (S::INTERNAL_SERVER_ERROR, "INTERNAL", "INTERNAL_ERROR"),
        }
    }

    fn details(&self, reason: &str) -> Value {
        json!([{
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": reason,
            "domain": "a2a-protocol.org",
            "metadata": {}
        }])
    }

    /// The JSON-RPC `error` object.
    #[must_use]
    pub fn rpc(&self) -> Value {
        if let A2aError::Internal(m) = self {
            tracing::error!(error = %m, "A2A request failed");
        }
        json!({ "code": self.code(), "message": self.to_string(), "data": self.details(self.http().2) })
    }

    /// The HTTP+JSON binding's body (`google.rpc.Status`).
    #[must_use]
    pub fn status_body(&self) -> Value {
        let (status, name, reason) = self.http();
        json!({ "error": {
            "code": status.as_u16(),
            "status": name,
            "message": self.to_string(),
            "details": self.details(reason),
        }})
    }
}

impl IntoResponse for A2aError {
    fn into_response(self) -> Response {
        if let A2aError::Internal(m) = &self {
            tracing::error!(error = %m, "A2A request failed");
        }
        let (status, _, _) = self.http();
        let mut response = (status, Json(self.status_body())).into_response();
        if matches!(self, A2aError::Unauthorized) {
            response.headers_mut().insert(
                http::header::WWW_AUTHENTICATE,
                http::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}
