//! One stateless request to one upstream (protocol 2026-07-28): no session, every request
//! carries its own `_meta`, and the `Mcp-*` headers travel with it.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use serde_json::Value;
use sse_stream::SseStream;
use strata_config::Upstream;

use crate::McpError;
use crate::upstream::http::header_map;

const NAME_HEADER: &str = "mcp-name";

/// Sends `message` to `upstream` with the client's `Mcp-*` headers (and `Mcp-Name` set to
/// `name` when the gateway renamed what the request names).
pub(super) async fn send(
    client: &reqwest::Client,
    upstream: &Upstream,
    incoming: &HeaderMap,
    message: &Value,
    name: Option<&str>,
) -> Result<reqwest::Response, McpError> {
    let url = upstream.url.as_deref().ok_or_else(|| {
        McpError::Upstream(format!(
            "upstream `{}` is not an HTTP upstream",
            upstream.name
        ))
    })?;
    let mut headers = header_map(&upstream.headers);
    for (key, value) in incoming {
        let forwarded = key.as_str().starts_with("mcp-") && key.as_str() != "mcp-session-id";
        if forwarded && !(name.is_some() && key.as_str() == NAME_HEADER) {
            headers.append(key.clone(), value.clone());
        }
    }
    if let Some(name) = name.and_then(|n| HeaderValue::from_str(n).ok()) {
        headers.insert(HeaderName::from_static(NAME_HEADER), name);
    }
    client
        .post(url)
        .headers(headers)
        .header(ACCEPT, "application/json, text/event-stream")
        .header(CONTENT_TYPE, "application/json")
        .json(message)
        .send()
        .await
        .map_err(|e| McpError::Upstream(format!("upstream `{}`: {e}", upstream.name)))
}

/// Relays the upstream's answer as it is: status, content type and body (JSON or a stream).
pub(crate) async fn relay(
    client: &reqwest::Client,
    upstream: &Upstream,
    incoming: &HeaderMap,
    message: &Value,
    name: Option<&str>,
) -> Result<Response, McpError> {
    let response = send(client, upstream, incoming, message, name).await?;
    let status =
        StatusCode::from_u16(response.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let content_type = response.headers().get(CONTENT_TYPE).cloned();
    let body = Body::from_stream(response.bytes_stream());
    let mut relayed = (status, body).into_response();
    if let Some(content_type) = content_type {
        relayed.headers_mut().insert(CONTENT_TYPE, content_type);
    }
    Ok(relayed)
}

/// Sends `message` and reads the upstream's JSON-RPC response to it (from JSON or SSE), with
/// the HTTP status.
pub(crate) async fn call(
    client: &reqwest::Client,
    upstream: &Upstream,
    incoming: &HeaderMap,
    message: &Value,
    name: Option<&str>,
) -> Result<(StatusCode, Value), McpError> {
    let response = send(client, upstream, incoming, message, name).await?;
    let status =
        StatusCode::from_u16(response.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let sse = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    let id = message.get("id");
    if !sse {
        let body = response
            .bytes()
            .await
            .map_err(|e| McpError::Upstream(e.to_string()))?;
        let value = serde_json::from_slice(&body).map_err(|e| {
            McpError::Upstream(format!(
                "upstream `{}` answered invalid JSON: {e}",
                upstream.name
            ))
        })?;
        return Ok((status, value));
    }
    let mut events = SseStream::from_bytes_stream(response.bytes_stream());
    while let Some(Ok(event)) = events.next().await {
        let Some(value) = event
            .data
            .and_then(|d| serde_json::from_str::<Value>(&d).ok())
        else {
            continue;
        };
        if value.get("id") == id && value.get("method").is_none() {
            return Ok((status, value));
        }
    }
    Err(McpError::Upstream(format!(
        "upstream `{}` ended its stream without an answer",
        upstream.name
    )))
}
