//! The mcp layer's errors, as JSON-RPC error responses.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Why an mcp-layer request failed.
#[derive(Debug, thiserror::Error)]
pub enum McpError {
    #[error("no MCP server is served at {0}")]
    UnknownServer(String),
}

impl McpError {
    fn status(&self) -> StatusCode {
        match self {
            McpError::UnknownServer(_) => StatusCode::NOT_FOUND,
        }
    }

    /// The JSON-RPC error code.
    fn code(&self) -> i64 {
        match self {
            McpError::UnknownServer(_) => -32601,
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
        (self.status(), Json(body)).into_response()
    }
}
