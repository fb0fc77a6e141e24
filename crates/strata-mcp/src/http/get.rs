//! GET `/mcp/{server}` opens the session's standalone stream or, with `Last-Event-ID`, resumes
//! any stream of the session where the client lost it. DELETE ends the session.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::guard;
use super::{McpState, post, sse};
use crate::McpError;
use crate::session::streams::{OpenError, STANDALONE, Streams};

pub(super) async fn open(
    State(state): State<Arc<McpState>>,
    Path(server): Path<String>,
    principal: Option<axum::Extension<strata_core::Principal>>,
    headers: HeaderMap,
) -> Result<Response, McpError> {
    state.guard.check(&headers)?;
    let server = state.server(&server)?.clone();
    let caller = state
        .auth
        .authenticate(&server, &headers, principal)
        .await?;
    if !guard::accepts(&headers).1 {
        return Err(McpError::NotAcceptable(
            "the client must accept text/event-stream".into(),
        ));
    }
    guard::check_version(&headers)?;
    if let Some(owner) = super::held_elsewhere(&state, &headers).await {
        let (method, body) = (axum::http::Method::GET, axum::body::Bytes::new());
        return super::forward(&state, &owner, method, &server.name, &headers, body).await;
    }
    let session = super::find_session(&state, &server, &headers, caller.as_deref()).await?;
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(Streams::parse_event_id);
    let reader = match resume {
        Some((stream, after)) => match session.streams.reader(stream, after) {
            Err(OpenError::Unknown) => session.streams.fresh_reader(STANDALONE),
            other => other,
        },
        None => session.streams.fresh_reader(STANDALONE),
    };
    match reader {
        Ok(reader) => Ok(sse::response(reader, post::primes(&session))),
        Err(OpenError::Busy) => Err(McpError::StreamBusy),
        Err(OpenError::Unknown) => Err(McpError::UnknownSession),
    }
}

pub(super) async fn delete(
    State(state): State<Arc<McpState>>,
    Path(server): Path<String>,
    principal: Option<axum::Extension<strata_core::Principal>>,
    headers: HeaderMap,
) -> Result<Response, McpError> {
    state.guard.check(&headers)?;
    let server = state.server(&server)?.clone();
    let caller = state
        .auth
        .authenticate(&server, &headers, principal)
        .await?;
    if let Some(owner) = super::held_elsewhere(&state, &headers).await {
        let (method, body) = (axum::http::Method::DELETE, axum::body::Bytes::new());
        return super::forward(&state, &owner, method, &server.name, &headers, body).await;
    }
    let session = super::find_session(&state, &server, &headers, caller.as_deref()).await?;
    if let Some(directory) = &state.directory {
        directory.forget(&session.id).await;
    }
    if state.sessions.remove(&session.id).await {
        Ok(StatusCode::OK.into_response())
    } else {
        Err(McpError::UnknownSession)
    }
}
