//! Tool calls through the mcp layer: a Streamable HTTP session per virtual server and
//! principal (opened on first use, opened again when the layer forgot it), `tools/call` with
//! the idempotency key in `_meta`, answers read as JSON or as an event stream.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::body::Body;
use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use http::{Request, header};
use serde_json::{Value, json};
use sse_stream::SseStream;
use tokio::sync::Mutex;

use super::{CallContext, CallError, Called, ToolClient, Transport, read_body};

const PROTOCOL: &str = "2025-11-25";
const SESSION: &str = "mcp-session-id";

#[derive(Debug, Clone)]
struct Session {
    id: String,
    version: String,
}

/// The mcp layer, over a transport.
#[derive(Debug)]
pub struct LayerTools {
    transport: Arc<dyn Transport>,
    sessions: Mutex<HashMap<(String, Option<String>), Session>>,
    ids: AtomicU64,
}

impl LayerTools {
    #[must_use]
    pub fn new(transport: Arc<dyn Transport>) -> Self {
        Self {
            transport,
            sessions: Mutex::default(),
            ids: AtomicU64::new(1),
        }
    }

    async fn call(&self, server: &str, name: &str, arguments: Value, ctx: &CallContext) -> Called {
        let started = Instant::now();
        let params = json!({
            "name": name,
            "arguments": arguments,
            "_meta": { "io.strata/idempotency-key": ctx.idempotency_key, "io.strata/run-id": ctx.run_id,
                "traceparent": ctx.traceparent() },
        });
        let mut record = json!({ "layer": "mcp", "server": server, "request": { "method": "tools/call", "params": params } });
        let mut result = self
            .call_once(server, &params, ctx, &mut record, false)
            .await;
        if matches!(&result, Err(e) if e.class == "session_gone") {
            result = self
                .call_once(server, &params, ctx, &mut record, true)
                .await;
            if let Err(e) = &mut result
                && e.class == "session_gone"
            {
                e.class = "unavailable";
            }
        }
        let result = result.and_then(|answer| tool_output(&answer));
        Called::finish(result, record, started)
    }

    async fn call_once(
        &self,
        server: &str,
        params: &Value,
        ctx: &CallContext,
        record: &mut Value,
        fresh: bool,
    ) -> Result<Value, CallError> {
        let session = self.session(server, ctx, fresh).await?;
        let id = self.ids.fetch_add(1, Ordering::Relaxed);
        let body = json!({ "jsonrpc": "2.0", "id": id, "method": "tools/call", "params": params });
        let (status, answer) = self
            .post(server, Some(&session), &body, Some(id), ctx)
            .await?;
        if status == 404 {
            return Err(CallError::new("session_gone", "the session ended"));
        }
        record["response"] = answer.clone().unwrap_or(Value::Null);
        record["status"] = json!(status);
        let answer = answer.ok_or_else(|| {
            CallError::new(
                CallError::class_of(status),
                format!("the mcp layer answered {status}"),
            )
        })?;
        if let Some(error) = answer.get("error") {
            let code = error.get("code").and_then(Value::as_i64).unwrap_or(0);
            let message = error
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("tool call failed")
                .to_string();
            let class = match code {
                -32601 | -32602 => "bad_request",
                -32001 => "timeout",
                _ => "tool_error",
            };
            return Err(CallError {
                class,
                message,
                response: Some(answer.clone()),
            });
        }
        if status != 200 {
            return Err(CallError::new(
                CallError::class_of(status),
                format!("the mcp layer answered {status}"),
            ));
        }
        Ok(answer.get("result").cloned().unwrap_or(Value::Null))
    }

    /// The session for `server` and the caller, opened when there is none (or `fresh`).
    async fn session(
        &self,
        server: &str,
        ctx: &CallContext,
        fresh: bool,
    ) -> Result<Session, CallError> {
        let key = (server.to_string(), ctx.principal.clone());
        let mut sessions = self.sessions.lock().await;
        if !fresh && let Some(s) = sessions.get(&key) {
            return Ok(s.clone());
        }
        let init = json!({
            "jsonrpc": "2.0", "id": 0, "method": "initialize",
            "params": {
                "protocolVersion": PROTOCOL,
                "capabilities": {},
                "clientInfo": { "name": "strata-agent", "version": strata_core::VERSION }
            }
        });
        let response = self.send(server, None, &init, ctx).await?;
        let status = response.status().as_u16();
        let id = response
            .headers()
            .get(SESSION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let answer = read_answer(response, Some(0)).await?;
        let (Some(id), 200) = (id, status) else {
            return Err(CallError::new(
                CallError::class_of(status),
                format!(
                    "initialize at /mcp/{server} answered {status}: {}",
                    answer.unwrap_or_default()
                ),
            ));
        };
        let version = answer
            .as_ref()
            .and_then(|a| a.pointer("/result/protocolVersion"))
            .and_then(Value::as_str)
            .unwrap_or(PROTOCOL)
            .to_string();
        let session = Session { id, version };
        let note = json!({ "jsonrpc": "2.0", "method": "notifications/initialized" });
        self.post(server, Some(&session), &note, None, ctx).await?;
        sessions.insert(key, session.clone());
        Ok(session)
    }

    fn request(
        &self,
        server: &str,
        session: Option<&Session>,
        body: &Value,
        ctx: &CallContext,
    ) -> Result<Request<Body>, CallError> {
        let mut builder = Request::post(format!("/mcp/{server}"))
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::ACCEPT, "application/json, text/event-stream")
            .header("traceparent", ctx.traceparent());
        if let Some(s) = session {
            builder = builder
                .header(SESSION, &s.id)
                .header("mcp-protocol-version", &s.version);
        }
        let mut request = builder
            .body(Body::from(body.to_string()))
            .map_err(|e| CallError::new("internal", e.to_string()))?;
        request.extensions_mut().insert(strata_core::Principal {
            name: ctx.principal.clone(),
        });
        Ok(request)
    }

    async fn post(
        &self,
        server: &str,
        session: Option<&Session>,
        body: &Value,
        id: Option<u64>,
        ctx: &CallContext,
    ) -> Result<(u16, Option<Value>), CallError> {
        let response = self.send(server, session, body, ctx).await?;
        let status = response.status().as_u16();
        Ok((status, read_answer(response, id).await?))
    }

    async fn send(
        &self,
        server: &str,
        session: Option<&Session>,
        body: &Value,
        ctx: &CallContext,
    ) -> Result<http::Response<Body>, CallError> {
        let request = self.request(server, session, body, ctx)?;
        self.transport
            .send(request)
            .await
            .map_err(|e| CallError::new("unavailable", e))
    }
}

/// The JSON-RPC answer to `id` in a JSON or event-stream response (`None` for no body).
async fn read_answer(
    response: http::Response<Body>,
    id: Option<u64>,
) -> Result<Option<Value>, CallError> {
    let is_stream = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    if !is_stream {
        let bytes = read_body(response.into_body()).await?;
        if bytes.is_empty() {
            return Ok(None);
        }
        return Ok(Some(serde_json::from_slice(&bytes).unwrap_or_else(|_| {
            Value::String(String::from_utf8_lossy(&bytes).into_owned())
        })));
    }
    let mut events = SseStream::from_bytes_stream(response.into_body().into_data_stream());
    while let Some(event) = events.next().await {
        let event =
            event.map_err(|e| CallError::new("unavailable", format!("event stream: {e}")))?;
        let Some(data) = event.data else {
            continue;
        };
        let Ok(message) = serde_json::from_str::<Value>(&data) else {
            continue;
        };
        let answers = message.get("result").is_some() || message.get("error").is_some();
        if answers && message.get("id").and_then(Value::as_u64) == id {
            return Ok(Some(message));
        }
    }
    Err(CallError::new(
        "unavailable",
        "the event stream ended without an answer",
    ))
}

/// A tool result as a step output: `structuredContent`, else the text (parsed when it is
/// JSON), else the content list. `isError` results are `tool_error` failures.
fn tool_output(result: &Value) -> Result<Value, CallError> {
    let content = result.get("content").and_then(Value::as_array);
    let texts: Vec<&str> = content
        .into_iter()
        .flatten()
        .filter_map(|c| c.get("text").and_then(Value::as_str))
        .collect();
    if result.get("isError").and_then(Value::as_bool) == Some(true) {
        return Err(CallError {
            class: "tool_error",
            message: if texts.is_empty() {
                "the tool reported an error".into()
            } else {
                texts.join("\n")
            },
            response: Some(result.clone()),
        });
    }
    if let Some(structured) = result.get("structuredContent") {
        return Ok(structured.clone());
    }
    match (content.map(Vec::len), texts.as_slice()) {
        (Some(1), [text]) => {
            Ok(serde_json::from_str(text).unwrap_or_else(|_| Value::String((*text).to_string())))
        }
        _ => Ok(content.map_or(Value::Null, |c| Value::Array(c.clone()))),
    }
}

impl ToolClient for LayerTools {
    fn call_tool<'a>(
        &'a self,
        server: &'a str,
        name: &'a str,
        arguments: Value,
        ctx: &'a CallContext,
    ) -> BoxFuture<'a, Called> {
        Box::pin(self.call(server, name, arguments, ctx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_results_become_outputs() {
        let text = json!({ "content": [{ "type": "text", "text": "hello" }] });
        assert_eq!(tool_output(&text).unwrap(), json!("hello"));
        let json_text = json!({ "content": [{ "type": "text", "text": "{\"a\":1}" }] });
        assert_eq!(tool_output(&json_text).unwrap(), json!({ "a": 1 }));
        let structured = json!({ "content": [], "structuredContent": { "sum": 3 } });
        assert_eq!(tool_output(&structured).unwrap(), json!({ "sum": 3 }));
        let error = json!({ "content": [{ "type": "text", "text": "boom" }], "isError": true });
        let e = tool_output(&error).unwrap_err();
        assert_eq!((e.class, e.message.as_str()), ("tool_error", "boom"));
    }
}
