//! A fast MCP upstream over Streamable HTTP at `/mcp`: `initialize` (with an `Mcp-Session-Id`),
//! notifications (202), `ping`, `tools/list` and `tools/call` (one tool, `echo`, answering a
//! short text), all as plain `application/json` from pre-serialized results, so the
//! measurement is the gateway, not the tool server. GET answers 405 (no standalone stream)
//! unless `--standalone-stream` holds it open; DELETE ends the session.

use std::borrow::Cow;
use std::collections::HashSet;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::serve::ListenerExt;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::client::SESSION_HEADER;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:9200")]
    addr: String,
    /// Hold GET (standalone) streams open as idle SSE instead of answering 405, like servers
    /// that can notify: the gateway then keeps one more connection per upstream session.
    #[arg(long)]
    standalone_stream: bool,
    /// Serve with rmcp's Streamable HTTP server instead (stateful sessions; it answers every
    /// request as SSE). Needs the `rmcp` feature.
    #[arg(long)]
    rmcp: bool,
}

const VERSIONS: [&str; 4] = ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"];
const TOOLS: &str = r#"{"tools":[{"name":"echo","description":"Answers a short text","inputSchema":{"type":"object","properties":{"text":{"type":"string"}}}}]}"#;
const CALL: &str = r#"{"content":[{"type":"text","text":"benchmark answer"}],"isError":false}"#;

/// One JSON-RPC message, borrowed from the body: only what routing needs is looked at.
#[derive(Deserialize)]
struct Incoming<'a> {
    #[serde(borrow, default)]
    id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    method: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    params: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct InitParams<'a> {
    #[serde(borrow, rename = "protocolVersion", default)]
    protocol_version: Option<Cow<'a, str>>,
}

#[derive(Debug, Default)]
struct Upstream {
    sessions: Mutex<HashSet<String>>,
    next: AtomicU64,
    ids: std::collections::hash_map::RandomState,
    standalone_stream: bool,
}

impl Upstream {
    fn sessions(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.sessions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Checks the request's session: the response to send instead when it is missing or unknown.
    fn reject_session(&self, headers: &HeaderMap) -> Option<Response> {
        match headers.get(SESSION_HEADER).and_then(|v| v.to_str().ok()) {
            None => Some(error(
                StatusCode::BAD_REQUEST,
                "null",
                -32600,
                "missing Mcp-Session-Id",
            )),
            Some(id) if !self.sessions().contains(id) => Some(error(
                StatusCode::NOT_FOUND,
                "null",
                -32001,
                "session not found",
            )),
            Some(_) => None,
        }
    }
}

pub async fn run(args: Args) -> Result<(), String> {
    // Without TCP_NODELAY a streamed answer (rmcp's SSE) waits out the client's delayed ACK.
    let listener = tokio::net::TcpListener::bind(&args.addr)
        .await
        .map_err(|e| format!("bind {}: {e}", args.addr))?
        .tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
    let app = if args.rmcp {
        rmcp_router()?
    } else {
        let state = Arc::new(Upstream {
            standalone_stream: args.standalone_stream,
            ..Upstream::default()
        });
        Router::new()
            .route("/mcp", post(message).get(standalone).delete(end))
            .with_state(state)
    };
    axum::serve(listener, app).await.map_err(|e| e.to_string())
}

#[cfg(feature = "rmcp")]
#[allow(clippy::unnecessary_wraps)]
fn rmcp_router() -> Result<Router, String> {
    Ok(super::rmcp_upstream::router())
}

#[cfg(not(feature = "rmcp"))]
fn rmcp_router() -> Result<Router, String> {
    Err("--rmcp needs strata-bench built with `--features rmcp`".into())
}

async fn message(State(up): State<Arc<Upstream>>, headers: HeaderMap, body: Bytes) -> Response {
    let Ok(message) = serde_json::from_slice::<Incoming<'_>>(&body) else {
        return error(StatusCode::BAD_REQUEST, "null", -32700, "parse error");
    };
    // A response to a request of ours (we send none) or a notification: accepted.
    let Some(method) = message.method else {
        return StatusCode::ACCEPTED.into_response();
    };
    if method == "initialize" {
        return initialize(&up, message.id, message.params);
    }
    if let Some(response) = up.reject_session(&headers) {
        return response;
    }
    let Some(id) = message.id else {
        return StatusCode::ACCEPTED.into_response();
    };
    let result = match method.as_ref() {
        "tools/call" => CALL,
        "tools/list" => TOOLS,
        "ping" => "{}",
        _ => return error(StatusCode::OK, id.get(), -32601, "method not found"),
    };
    json(format!(
        r#"{{"jsonrpc":"2.0","id":{},"result":{result}}}"#,
        id.get()
    ))
}

fn initialize(up: &Upstream, id: Option<&RawValue>, params: Option<&RawValue>) -> Response {
    let id = id.map_or("null", RawValue::get);
    let requested = params
        .and_then(|p| serde_json::from_str::<InitParams<'_>>(p.get()).ok())
        .and_then(|p| p.protocol_version)
        .filter(|v| VERSIONS.contains(&v.as_ref()));
    let version = requested.as_deref().unwrap_or(VERSIONS[3]);
    let n = up.next.fetch_add(1, Ordering::Relaxed);
    let session = format!("{:016x}{n:016x}", up.ids.hash_one(n));
    up.sessions().insert(session.clone());
    let mut response = json(format!(
        r#"{{"jsonrpc":"2.0","id":{id},"result":{{"protocolVersion":"{version}","capabilities":{{"tools":{{}}}},"serverInfo":{{"name":"strata-bench","version":"{}"}}}}}}"#,
        env!("CARGO_PKG_VERSION")
    ));
    if let Ok(value) = HeaderValue::from_str(&session) {
        response.headers_mut().insert(SESSION_HEADER, value);
    }
    response
}

/// GET: 405, or (with `--standalone-stream`) an SSE stream that stays open and silent.
async fn standalone(State(up): State<Arc<Upstream>>, headers: HeaderMap) -> Response {
    if !up.standalone_stream {
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    }
    if let Some(response) = up.reject_session(&headers) {
        return response;
    }
    let open = futures_util::stream::pending::<Result<Bytes, std::convert::Infallible>>();
    (
        [(CONTENT_TYPE, "text/event-stream")],
        Body::from_stream(open),
    )
        .into_response()
}

async fn end(State(up): State<Arc<Upstream>>, headers: HeaderMap) -> StatusCode {
    let id = headers.get(SESSION_HEADER).and_then(|v| v.to_str().ok());
    match id {
        Some(id) if up.sessions().remove(id) => StatusCode::OK,
        _ => StatusCode::NOT_FOUND,
    }
}

fn json(body: String) -> Response {
    ([(CONTENT_TYPE, "application/json")], body).into_response()
}

fn error(status: StatusCode, id: &str, code: i64, message: &str) -> Response {
    let body =
        format!(r#"{{"jsonrpc":"2.0","id":{id},"error":{{"code":{code},"message":"{message}"}}}}"#);
    (status, [(CONTENT_TYPE, "application/json")], body).into_response()
}
