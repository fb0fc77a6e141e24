//! The legacy HTTP+SSE transport (protocol 2024-11-05) for old clients: GET
//! `/mcp/{server}/sse` opens the event stream, whose first event names the endpoint to POST
//! messages to (`/mcp/{server}/message?sessionId=…`); every answer arrives on the stream.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use tokio::sync::mpsc;

use super::{McpState, guard, sse};
use crate::McpError;
use crate::duplex::Duplex;
use crate::jsonrpc::Message;

/// Open legacy connections by their `sessionId`; kept across config reloads.
#[derive(Debug, Clone, Default)]
pub(crate) struct LegacyConnections {
    /// Connection id → the principal that opened it, and its session.
    map: Arc<Mutex<HashMap<String, Owned>>>,
}

/// A legacy connection's session and the principal that opened it.
type Owned = (Option<Arc<crate::auth::Caller>>, Arc<Duplex>);

impl LegacyConnections {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Owned>> {
        self.map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Ends the connection's session when its event stream is dropped (the client went away).
struct Closer {
    connections: LegacyConnections,
    id: String,
}

impl Drop for Closer {
    fn drop(&mut self) {
        if let Some((_, duplex)) = self.connections.lock().remove(&self.id) {
            tokio::spawn(async move { duplex.close().await });
        }
    }
}

#[derive(Debug, serde::Deserialize)]
pub(super) struct SessionQuery {
    #[serde(rename = "sessionId")]
    session_id: String,
}

pub(super) async fn open(
    State(state): State<Arc<McpState>>,
    Path(server): Path<String>,
    headers: HeaderMap,
) -> Result<Response, McpError> {
    state.guard.check(&headers)?;
    let virtual_server = state.server(&server)?.clone();
    let caller = state
        .auth
        .authenticate(&virtual_server, &headers, None)
        .await?;
    let (tx, rx) = mpsc::unbounded_channel();
    let id = uuid::Uuid::new_v4().simple().to_string();
    let duplex = Arc::new(Duplex::new(
        state.clone(),
        virtual_server,
        caller.clone(),
        tx,
    ));
    state.legacy.lock().insert(id.clone(), (caller, duplex));
    let endpoint = format!("event: endpoint\ndata: /mcp/{server}/message?sessionId={id}\n\n");
    let closer = Closer {
        connections: state.legacy.clone(),
        id,
    };
    let first = futures_util::stream::once(async move { Bytes::from(endpoint) });
    let messages = futures_util::stream::unfold((rx, closer), |(mut rx, closer)| async move {
        let chunk = match tokio::time::timeout(sse::KEEP_ALIVE, rx.recv()).await {
            Err(_) => sse::KEEP_ALIVE_LINE.to_string(),
            Ok(Some(message)) => format!("event: message\ndata: {message}\n\n"),
            Ok(None) => return None,
        };
        Some((Bytes::from(chunk), (rx, closer)))
    });
    Ok(sse::stream_response(futures_util::StreamExt::chain(
        first, messages,
    )))
}

pub(super) async fn message(
    State(state): State<Arc<McpState>>,
    Path(server): Path<String>,
    Query(query): Query<SessionQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, McpError> {
    state.guard.check(&headers)?;
    let virtual_server = state.server(&server)?.clone();
    let caller = state
        .auth
        .authenticate(&virtual_server, &headers, None)
        .await?;
    guard::require_json_body(&headers)?;
    let duplex = state
        .legacy
        .lock()
        .get(&query.session_id)
        .filter(|(owner, _)| {
            crate::auth::name_of(owner.as_deref()) == crate::auth::name_of(caller.as_deref())
        })
        .map(|(_, duplex)| duplex.clone())
        .ok_or(McpError::UnknownSession)?;
    let value: Value = serde_json::from_slice(&body).map_err(|e| McpError::Parse(e.to_string()))?;
    let message = Message::parse(value).map_err(McpError::InvalidRequest)?;
    duplex.receive(message).await;
    Ok(StatusCode::ACCEPTED.into_response())
}
