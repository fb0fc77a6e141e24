//! The downstream Streamable HTTP transport at `/mcp/{server}`: POST carries client messages,
//! GET opens (or resumes) a server stream, DELETE ends the session.

mod get;
pub(crate) mod guard;
mod legacy;
mod post;
pub(crate) mod sse;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get as get_route, post as post_route};

use crate::session::Sessions;
use crate::upstream::ConnectContext;
use crate::virtual_server::VirtualServer;

/// The largest message a client may POST.
const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// What every handler of one config generation shares.
#[derive(Debug, Clone)]
pub(crate) struct McpState {
    pub auth: Arc<crate::auth::McpAuth>,
    pub servers: Arc<HashMap<String, Arc<VirtualServer>>>,
    pub sessions: Sessions,
    pub guard: guard::Guard,
    pub connect: ConnectContext,
    pub idle_timeout: Duration,
    pub legacy: LegacyConnections,
    pub bridges: crate::stateless::Bridges,
    /// The session directory shared with other replicas (with Redis).
    pub directory: Option<Arc<crate::directory::Directory>>,
}

impl McpState {
    pub(crate) fn server(&self, name: &str) -> Result<&Arc<VirtualServer>, crate::McpError> {
        self.servers
            .get(name)
            .ok_or_else(|| crate::McpError::UnknownServer(format!("/mcp/{name}")))
    }
}

pub(crate) use legacy::LegacyConnections;

/// The replica that holds the session a request names, when it is not this one: the request
/// is then passed to it.
async fn held_elsewhere(state: &McpState, headers: &axum::http::HeaderMap) -> Option<String> {
    let directory = state.directory.as_ref()?;
    let id = guard::session_id(headers).ok()?;
    if state.sessions.get(id).is_some() {
        return None;
    }
    directory.elsewhere(id).await
}

/// Passes a request to the replica holding its session.
async fn forward(
    state: &McpState,
    owner: &str,
    method: axum::http::Method,
    server: &str,
    headers: &axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Result<axum::response::Response, crate::McpError> {
    let directory = state
        .directory
        .as_ref()
        .ok_or(crate::McpError::UnknownSession)?;
    let path = format!("/mcp/{server}");
    directory.forward(owner, method, &path, headers, body).await
}

/// The session a request names, if `caller` opened it on `server`. Another principal
/// presenting its id finds nothing, exactly as for an unknown id; the attempt is audited.
async fn find_session(
    state: &McpState,
    server: &VirtualServer,
    headers: &axum::http::HeaderMap,
    caller: Option<&crate::auth::Caller>,
) -> Result<Arc<crate::session::Session>, crate::McpError> {
    let session = state
        .sessions
        .get(guard::session_id(headers)?)
        .filter(|s| s.server.name == server.name)
        .ok_or(crate::McpError::UnknownSession)?;
    if session.owned_by(caller) {
        if let Some(directory) = &state.directory {
            directory.touch(&session.id);
        }
        return Ok(session);
    }
    let who = crate::auth::name_of(caller);
    tracing::warn!(server = %server.name, principal = ?who, "a session id presented by another principal");
    server
        .policy
        .auditor
        .refusal(
            server,
            "session.foreign",
            who,
            "the session belongs to another principal",
        )
        .await;
    Err(crate::McpError::UnknownSession)
}

/// RFC 9728 protected-resource metadata of a virtual server.
async fn protected_resource(
    axum::extract::State(state): axum::extract::State<Arc<McpState>>,
    axum::extract::Path(server): axum::extract::Path<String>,
    headers: axum::http::HeaderMap,
) -> Result<axum::Json<serde_json::Value>, crate::McpError> {
    let server = state.server(&server)?;
    Ok(axum::Json(state.auth.metadata(&headers, server)))
}

pub(crate) fn router(state: McpState) -> Router {
    Router::new()
        .route(
            "/mcp/{server}",
            post_route(post::handle).get(get::open).delete(get::delete),
        )
        .route("/mcp/{server}/sse", get_route(legacy::open))
        .route("/mcp/{server}/message", post_route(legacy::message))
        .route(
            "/.well-known/oauth-protected-resource/mcp/{server}",
            get_route(protected_resource),
        )
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(Arc::new(state))
        .fallback(|uri: axum::http::Uri| async move {
            crate::McpError::UnknownServer(uri.path().to_string())
        })
}
