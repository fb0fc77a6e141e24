//! POST `/mcp/{server}`: one JSON-RPC message from the client.
//!
//! A request is worked on in its own task, so a client that disconnects does not cancel it
//! (it can resume the stream). The answer is plain JSON when nothing else was sent before the
//! response, and an SSE stream (priming event first) when progress, logs or server requests
//! came first.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::guard::{self, LATEST_VERSION, SESSION_HEADER, SUPPORTED_VERSIONS};
use super::{McpState, sse};
use crate::McpError;
use crate::jsonrpc::{self, Message};
use crate::session::Session;
use crate::virtual_server;

pub(super) async fn handle(
    State(state): State<McpState>,
    Path(server): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, McpError> {
    state.guard.check(&headers)?;
    let server = state.server(&server)?.clone();
    let (json, sse) = guard::accepts(&headers);
    if !json && !sse {
        return Err(McpError::NotAcceptable(
            "the client must accept application/json and text/event-stream".into(),
        ));
    }
    guard::require_json_body(&headers)?;
    let value: Value = serde_json::from_slice(&body).map_err(|e| McpError::Parse(e.to_string()))?;
    if value.is_array() {
        return Err(McpError::InvalidRequest(
            "JSON-RPC batches are not accepted: send one message per POST".into(),
        ));
    }
    let message = Message::parse(value).map_err(McpError::InvalidRequest)?;
    if let Message::Request { id, method, params } = &message
        && method == "initialize"
    {
        return initialize(
            &state,
            server,
            id.clone(),
            params.clone().unwrap_or_default(),
        )
        .await;
    }
    guard::check_version(&headers)?;
    let session = state
        .sessions
        .get(guard::session_id(&headers)?)
        .filter(|s| Arc::ptr_eq(&s.server, &server) || s.server.name == server.name)
        .ok_or(McpError::UnknownSession)?;
    match message {
        Message::Request { id, method, params } => {
            Ok(request(session, id, method, params, json, sse).await)
        }
        Message::Notification { method, params } => {
            notification(&session, &method, params).await;
            Ok(StatusCode::ACCEPTED.into_response())
        }
        Message::Response { id, outcome } => {
            if !session.answer_server_request(&id, outcome).await {
                tracing::debug!(%id, "client answered a request nobody waits for");
            }
            Ok(StatusCode::ACCEPTED.into_response())
        }
    }
}

async fn initialize(
    state: &McpState,
    server: Arc<virtual_server::VirtualServer>,
    id: Value,
    params: Value,
) -> Result<Response, McpError> {
    let requested = params
        .get("protocolVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let version = if SUPPORTED_VERSIONS.contains(&requested) {
        requested
    } else {
        LATEST_VERSION
    }
    .to_string();
    let session = Session::start(
        server,
        version.clone(),
        params,
        state.idle_timeout,
        &state.connect,
    )
    .await
    .map_err(|e| McpError::Upstream(e.to_string()))?;
    state.sessions.insert(session.clone());
    let body = jsonrpc::response(id, Ok(virtual_server::initialize_result(&session)));
    let mut response = axum::Json(body).into_response();
    if let Ok(value) = HeaderValue::from_str(&session.id) {
        response.headers_mut().insert(SESSION_HEADER, value);
    }
    tracing::debug!(session = %session.id, server = %session.server.name, %version, "session started");
    Ok(response)
}

async fn request(
    session: Arc<Session>,
    id: Value,
    method: String,
    params: Option<Value>,
    json: bool,
    sse: bool,
) -> Response {
    let stream = session.streams.open();
    let worker = session.clone();
    let request_id = id.clone();
    tokio::spawn(async move {
        let outcome = virtual_server::handle(&worker, stream, &request_id, &method, params).await;
        let response = jsonrpc::response(request_id, outcome);
        worker.streams.finish(stream, response.to_string().into());
    });
    session.streams.wait_first(stream).await;
    if json && let Some(single) = session.streams.take_single(stream) {
        return json_response(&single);
    }
    if !sse {
        // The client takes JSON only: wait for the answer; what came before it is dropped.
        let reader = session.streams.reader(stream, 0);
        if let Ok(mut reader) = reader {
            let mut last = None;
            while let crate::session::streams::Next::Message { data, .. } = reader.next().await {
                last = Some(data);
            }
            if let Some(last) = last {
                return json_response(&last);
            }
        }
        return McpError::Upstream("the request ended without an answer".into()).into_response();
    }
    match session.streams.reader(stream, 0) {
        Ok(reader) => sse::response(reader, primes(&session)),
        Err(_) => McpError::Upstream("the request's stream is gone".into()).into_response(),
    }
}

fn json_response(body: &str) -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// Whether streams of this session start with a priming event (2025-11-25 and later; older
/// clients may not expect an event without data).
pub(super) fn primes(session: &Session) -> bool {
    session.protocol_version.as_str() >= "2025-11-25"
}

async fn notification(session: &Session, method: &str, params: Option<Value>) {
    match method {
        // The gateway completed each upstream's handshake itself.
        "notifications/initialized" => {}
        "notifications/cancelled" => session.cancel_request(params).await,
        _ => session.broadcast(method, params).await,
    }
}
