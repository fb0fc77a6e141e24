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

use super::guard::{self, SESSION_HEADER};
use super::{McpState, sse};
use crate::jsonrpc::{self, Message};
use crate::session::Session;
use crate::virtual_server;
use crate::{McpError, downstream, stateless};

pub(super) async fn handle(
    State(state): State<Arc<McpState>>,
    Path(server): Path<String>,
    principal: Option<axum::Extension<strata_core::Principal>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, McpError> {
    state.guard.check(&headers)?;
    let server = state.server(&server)?.clone();
    let caller = state
        .auth
        .authenticate(&server, &headers, principal)
        .await?;
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
    if headers.get(SESSION_HEADER).is_none() && stateless::applies(&headers, &value) {
        return Ok(stateless::handle(&state, &server, caller.as_deref(), &headers, value).await);
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
            caller,
        )
        .await;
    }
    guard::check_version(&headers)?;
    if let Some(owner) = super::held_elsewhere(&state, &headers).await {
        let method = axum::http::Method::POST;
        return super::forward(&state, &owner, method, &server.name, &headers, body).await;
    }
    let session = super::find_session(&state, &server, &headers, caller.as_deref()).await?;
    match message {
        Message::Request { id, method, params } => {
            Ok(request(session, id, method, params, json, sse).await)
        }
        other => {
            downstream::accept(&session, other).await;
            Ok(StatusCode::ACCEPTED.into_response())
        }
    }
}

async fn initialize(
    state: &McpState,
    server: Arc<virtual_server::VirtualServer>,
    id: Value,
    params: Value,
    caller: Option<Arc<crate::auth::Caller>>,
) -> Result<Response, McpError> {
    let (session, result) = downstream::initialize(state, server, caller, params).await?;
    if let Some(directory) = &state.directory {
        directory.register(&session.id).await;
    }
    let mut response = axum::Json(jsonrpc::response(id, Ok(result))).into_response();
    if let Ok(value) = HeaderValue::from_str(&session.id) {
        response.headers_mut().insert(SESSION_HEADER, value);
    }
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
    // The request runs in this task (no hand-off for the usual quick answer) until it is
    // answered or something else comes first; then, or if the client goes away, it goes on
    // in a task of its own.
    let (stream, work) = downstream::request_work(&session, id, method, params);
    let mut work = downstream::Detached(Some(work));
    if let Some(running) = work.0.as_mut() {
        tokio::select! {
            biased;
            () = running => work.0 = None,
            () = session.streams.wait_first(stream) => {}
        }
    }
    if json && let Some(single) = session.streams.take_single(stream) {
        return json_response(&single);
    }
    drop(work);
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
