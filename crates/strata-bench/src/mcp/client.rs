//! The client side of MCP Streamable HTTP that the load generator needs: start a session
//! (`initialize`, keep the `Mcp-Session-Id`, `notifications/initialized`), send a request and
//! read its answer from plain JSON or from an SSE stream, end the session.

use std::time::Duration;

use futures_util::StreamExt;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderValue};
use serde_json::{Value, json};

pub const SESSION_HEADER: &str = "mcp-session-id";
const VERSION_HEADER: &str = "mcp-protocol-version";
const ACCEPTS: &str = "application/json, text/event-stream";
/// After its answer, how long an SSE stream may take to end before it is dropped (dropping
/// it early costs the connection).
const DRAIN: Duration = Duration::from_millis(100);

/// One initialized session.
#[derive(Debug, Clone)]
pub struct Session {
    url: String,
    id: HeaderValue,
    version: HeaderValue,
}

/// An answer to a request.
#[derive(Debug)]
pub struct Reply {
    pub message: Value,
    /// It came as `text/event-stream`.
    pub sse: bool,
}

impl Session {
    /// `initialize` with `version`, then `notifications/initialized` (which must get 202).
    pub async fn start(client: &reqwest::Client, url: &str, version: &str) -> Result<Self, String> {
        let body = json!({ "jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": version, "capabilities": {},
            "clientInfo": { "name": "strata-bench", "version": env!("CARGO_PKG_VERSION") } } });
        let response = client
            .post(url)
            .header(ACCEPT, ACCEPTS)
            .header(CONTENT_TYPE, "application/json")
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| format!("initialize: {e}"))?;
        let id = response
            .headers()
            .get(SESSION_HEADER)
            .cloned()
            .ok_or_else(|| {
                format!(
                    "initialize: HTTP {} without Mcp-Session-Id",
                    response.status()
                )
            })?;
        let reply = answer(response, 0).await?;
        let negotiated = reply
            .message
            .pointer("/result/protocolVersion")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("initialize failed: {}", reply.message))?;
        let session = Session {
            url: url.to_string(),
            id,
            version: HeaderValue::from_str(negotiated).map_err(|e| e.to_string())?,
        };
        let status = session
            .post(
                client,
                r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#.into(),
            )
            .send()
            .await
            .map_err(|e| format!("notifications/initialized: {e}"))?
            .status();
        if status != reqwest::StatusCode::ACCEPTED {
            return Err(format!("notifications/initialized: HTTP {status}, not 202"));
        }
        Ok(session)
    }

    fn post(&self, client: &reqwest::Client, body: String) -> reqwest::RequestBuilder {
        client
            .post(&self.url)
            .header(ACCEPT, ACCEPTS)
            .header(CONTENT_TYPE, "application/json")
            .header(SESSION_HEADER, self.id.clone())
            .header(VERSION_HEADER, self.version.clone())
            .body(body)
    }

    /// Sends request `id` (`body` is the whole message) and reads its answer.
    pub async fn request(
        &self,
        client: &reqwest::Client,
        id: u64,
        body: String,
    ) -> Result<Reply, String> {
        let response = self
            .post(client, body)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        answer(response, id).await
    }

    /// DELETE: ends the session.
    pub async fn end(&self, client: &reqwest::Client) {
        let _ = client
            .delete(&self.url)
            .header(SESSION_HEADER, self.id.clone())
            .header(VERSION_HEADER, self.version.clone())
            .send()
            .await;
    }
}

/// Reads the answer to request `id` from a response: plain JSON, or the SSE event carrying it.
async fn answer(response: reqwest::Response, id: u64) -> Result<Reply, String> {
    let status = response.status();
    let sse = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    if !sse {
        let body = response.bytes().await.map_err(|e| e.to_string())?;
        let message: Value = serde_json::from_slice(&body).map_err(|_| {
            format!(
                "HTTP {status}: {}",
                String::from_utf8_lossy(&body)
                    .chars()
                    .take(200)
                    .collect::<String>()
            )
        })?;
        return Ok(Reply { message, sse });
    }
    let mut body = response.bytes_stream();
    let mut buffer = Vec::new();
    let mut found = None;
    loop {
        let next = if found.is_some() {
            match tokio::time::timeout(DRAIN, body.next()).await {
                Ok(next) => next,
                Err(_) => break,
            }
        } else {
            body.next().await
        };
        let Some(chunk) = next else { break };
        let chunk = chunk.map_err(|e| e.to_string())?;
        if found.is_some() {
            continue;
        }
        buffer.extend(chunk.iter().copied().filter(|b| *b != b'\r'));
        while let Some(end) = buffer.windows(2).position(|w| w == b"\n\n") {
            let event: Vec<u8> = buffer.drain(..end + 2).collect();
            if let Some(message) = event_message(&event)
                && message.get("id") == Some(&Value::from(id))
                && message.get("method").is_none()
            {
                found = Some(message);
                break;
            }
        }
    }
    found
        .map(|message| Reply { message, sse })
        .ok_or_else(|| format!("HTTP {status}: the SSE stream ended without the answer"))
}

/// The JSON message in one SSE event's `data:` lines, if any.
fn event_message(event: &[u8]) -> Option<Value> {
    let text = std::str::from_utf8(event).ok()?;
    let data: Vec<&str> = text
        .lines()
        .filter_map(|line| line.strip_prefix("data:"))
        .map(|d| d.strip_prefix(' ').unwrap_or(d))
        .collect();
    let data = data.join("\n");
    if data.trim().is_empty() {
        return None;
    }
    serde_json::from_str(&data).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_events_yield_their_json() {
        assert_eq!(event_message(b"id: 1_0\ndata: \n\n"), None);
        let message = event_message(b"id: 1_1\ndata: {\"id\":3,\ndata: \"result\":{}}\n\n");
        assert_eq!(message, Some(json!({ "id": 3, "result": {} })));
    }
}
