//! The mcp layer's transport-level errors: each maps to an HTTP status and a JSON-RPC error
//! body (`id: null`), the shape MCP clients read.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::jsonrpc::code;

/// Why an mcp-layer HTTP request failed.
#[derive(Debug, thiserror::Error)]
pub enum McpError {
    #[error("no MCP server is served at {0}")]
    UnknownServer(String),
    #[error("Forbidden: {0}")]
    Forbidden(String),
    #[error("Not Acceptable: {0}")]
    NotAcceptable(String),
    #[error("Unsupported Media Type: Content-Type must be application/json")]
    UnsupportedMediaType,
    #[error("Parse error: {0}")]
    Parse(String),
    #[error("Invalid Request: {0}")]
    InvalidRequest(String),
    #[error("Bad Request: Mcp-Session-Id header is required")]
    MissingSession,
    #[error("Session not found")]
    UnknownSession,
    /// Credentials cannot be checked now (the identity provider's keys cannot be fetched).
    #[error("Service Unavailable: {0}")]
    AuthUnavailable(String),
    /// No credentials, or not valid ones: the client should fetch the metadata and sign in.
    #[error("Unauthorized: {message}")]
    Unauthorized {
        message: String,
        /// URL of the protected-resource metadata (RFC 9728).
        metadata: String,
    },
    /// A valid token without the scopes the server requires (RFC 6750 §3.1).
    #[error("Forbidden: insufficient_scope: the token needs the scopes `{scope}`")]
    InsufficientScope {
        scope: String,
        /// URL of the protected-resource metadata (RFC 9728).
        metadata: String,
    },
    #[error("Bad Request: Unsupported protocol version: {0}")]
    UnsupportedVersion(String),
    #[error("Conflict: another connection is already reading this stream")]
    StreamBusy,
    #[error("{0}")]
    Upstream(String),
    #[error("invalid virtual server: {0}")]
    Build(#[from] crate::virtual_server::BuildError),
}

impl McpError {
    fn status(&self) -> StatusCode {
        match self {
            McpError::UnknownServer(_) | McpError::UnknownSession => StatusCode::NOT_FOUND,
            McpError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            McpError::AuthUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            McpError::Forbidden(_) | McpError::InsufficientScope { .. } => StatusCode::FORBIDDEN,
            McpError::NotAcceptable(_) => StatusCode::NOT_ACCEPTABLE,
            McpError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            McpError::Parse(_)
            | McpError::InvalidRequest(_)
            | McpError::MissingSession
            | McpError::UnsupportedVersion(_) => StatusCode::BAD_REQUEST,
            McpError::StreamBusy => StatusCode::CONFLICT,
            McpError::Upstream(_) => StatusCode::BAD_GATEWAY,
            McpError::Build(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The JSON-RPC error code.
    fn code(&self) -> i64 {
        match self {
            McpError::UnknownServer(_) => code::METHOD_NOT_FOUND,
            McpError::Parse(_) => code::PARSE_ERROR,
            McpError::InvalidRequest(_) => code::INVALID_REQUEST,
            McpError::UnknownSession => code::REQUEST_TIMEOUT,
            McpError::Upstream(_) | McpError::Build(_) | McpError::AuthUnavailable(_) => {
                code::INTERNAL_ERROR
            }
            McpError::Forbidden(_)
            | McpError::InsufficientScope { .. }
            | McpError::Unauthorized { .. }
            | McpError::NotAcceptable(_)
            | McpError::UnsupportedMediaType
            | McpError::MissingSession
            | McpError::UnsupportedVersion(_)
            | McpError::StreamBusy => code::CONNECTION_CLOSED,
        }
    }
}

impl IntoResponse for McpError {
    fn into_response(self) -> Response {
        let body = json!({
            "jsonrpc": "2.0",
            "id": null,
            "error": { "code": self.code(), "message": self.to_string() }
        });
        let mut response = (self.status(), Json(body)).into_response();
        let challenge = match &self {
            McpError::Unauthorized { metadata, .. } => {
                Some(format!("Bearer resource_metadata=\"{metadata}\""))
            }
            McpError::InsufficientScope { scope, metadata } => Some(format!(
                "Bearer error=\"insufficient_scope\", scope=\"{scope}\", resource_metadata=\"{metadata}\""
            )),
            _ => None,
        };
        if let Some(challenge) = challenge
            && let Ok(value) = axum::http::HeaderValue::from_str(&challenge)
        {
            response
                .headers_mut()
                .insert(axum::http::header::WWW_AUTHENTICATE, value);
        }
        response
    }
}
