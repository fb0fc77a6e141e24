//! What every downstream transport does the same way: start a session on `initialize`, start
//! work on a request, take a client's notification or answer. Streamable HTTP (`http/`), the
//! legacy HTTP+SSE transport and the stdio bridge (`duplex.rs`) only differ in how messages
//! travel.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde_json::Value;

use crate::McpError;
use crate::audit::{Ending, Operation};
use crate::auth::Caller;
use crate::http::McpState;
use crate::http::guard::{LATEST_VERSION, SUPPORTED_VERSIONS};
use crate::jsonrpc::{self, Message, RpcError};
use crate::session::Session;
use crate::virtual_server::{self, VirtualServer};

/// Starts a session for the client's `initialize` params; returns it with the result to send.
pub(crate) async fn initialize(
    state: &McpState,
    server: Arc<VirtualServer>,
    caller: Option<Arc<Caller>>,
    params: Value,
) -> Result<(Arc<Session>, Value), McpError> {
    let started = std::time::Instant::now();
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
        server.clone(),
        caller.clone(),
        version.clone(),
        params,
        state.idle_timeout,
        &state.connect,
    )
    .await;
    let op = Operation {
        server: &server,
        caller: caller.as_deref(),
        session: session.as_ref().ok().map(|s| s.id.as_str()),
        method: "initialize",
        params: None,
        upstream: None,
        started,
    };
    let outcome = session
        .as_ref()
        .map(|_| Value::Null)
        .map_err(|e| RpcError::internal(e.to_string()));
    server
        .policy
        .auditor
        .operation(&op, Ending::Answered(&outcome))
        .await;
    let session = session.map_err(|e| McpError::Upstream(e.to_string()))?;
    state.sessions.insert(session.clone());
    tracing::debug!(session = %session.id, server = %session.server.name, %version, "session started");
    let result = virtual_server::initialize_result(&session);
    Ok((session, result))
}

/// The work of one request: its answer, and what the upstreams send about it, go to `stream`.
pub(crate) type Work = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Opens the request's stream and returns it with the work that answers on it.
pub(crate) fn request_work(
    session: &Arc<Session>,
    id: Value,
    method: String,
    params: Option<Value>,
) -> (u64, Work) {
    let stream = session.streams.open();
    let worker = session.clone();
    let work = Box::pin(async move {
        let caller = worker.caller.clone();
        let outcome =
            virtual_server::handle(&worker, caller.as_deref(), stream, &id, &method, params).await;
        let response = jsonrpc::response(id, outcome);
        worker.streams.finish(stream, response.to_string().into());
    });
    (stream, work)
}

/// Starts work on a request in its own task (a client that goes away does not cancel it) and
/// returns the stream its messages and its answer go to.
pub(crate) fn start_request(
    session: &Arc<Session>,
    id: Value,
    method: String,
    params: Option<Value>,
) -> u64 {
    let (stream, work) = request_work(session, id, method, params);
    tokio::spawn(work);
    stream
}

/// Work run in the caller's task until the caller stops waiting for it: if the caller is
/// dropped first (the client disconnected), the rest runs in a task of its own, because a
/// disconnect is not a cancellation.
pub(crate) struct Detached(pub Option<Work>);

impl Drop for Detached {
    fn drop(&mut self) {
        if let Some(work) = self.0.take() {
            tokio::spawn(work);
        }
    }
}

/// A notification or an answer from the client (anything but a request).
pub(crate) async fn accept(session: &Session, message: Message) {
    match message {
        // The gateway completed each upstream's handshake itself.
        Message::Notification { method, .. } if method == "notifications/initialized" => {}
        Message::Notification { method, params } if method == "notifications/cancelled" => {
            session.cancel_request(params).await;
        }
        Message::Notification { method, params } => session.broadcast(&method, params).await,
        Message::Response { id, outcome } => {
            if !session.answer_server_request(&id, outcome).await {
                tracing::debug!(%id, "client answered a request nobody waits for");
            }
        }
        Message::Request { method, .. } => tracing::warn!(%method, "a request reached accept()"),
    }
}
