//! Stateless clients (2026-07-28) in front of upstreams that only speak the stateful revisions
//! (stdio children, built-in servers, legacy SSE): the gateway keeps one 2025-11-25 session per
//! virtual server for them and answers each stateless request through it.
//!
//! The shared bridge session declares no client capabilities upstream, so upstreams never ask
//! through it. A `tools/call`, `prompts/get` or `resources/read` of a client that declares
//! sampling, elicitation or roots runs on a session of its own with those capabilities, and
//! what its upstream asks reaches the client as a multi round-trip request (`mrtr.rs`).
//! `subscriptions/listen` gets a bridge session of its own (`bridge_listen.rs`).

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::sync::Mutex;

use super::mrtr::Rounds;
use super::{STATELESS_VERSION, error};
use crate::auth::Caller;
use crate::http::McpState;
use crate::http::guard::VERSION_HEADER;
use crate::jsonrpc::{self, RpcError, code};
use crate::session::Session;
use crate::virtual_server::{self, VirtualServer};

/// `-32020`: the `Mcp-*` headers do not match the body.
pub(super) const HEADER_MISMATCH: i64 = -32020;
/// `-32022`: the requested protocol version is not supported.
const UNSUPPORTED_VERSION: i64 = -32022;
/// The stateful revision the bridge speaks upstream.
pub(super) const BRIDGE_VERSION: &str = "2025-11-25";
const META_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
const META_CAPABILITIES: &str = "io.modelcontextprotocol/clientCapabilities";

/// One bridge session per virtual server; kept across config reloads.
#[derive(Debug, Clone, Default)]
pub(crate) struct Bridges {
    sessions: Arc<Mutex<HashMap<String, Arc<Session>>>>,
    rounds: Arc<Rounds>,
}

impl Bridges {
    /// The live bridge session of `server`, started when there is none.
    async fn session(
        &self,
        state: &McpState,
        server: &Arc<VirtualServer>,
    ) -> Result<Arc<Session>, RpcError> {
        let mut sessions = self.sessions.lock().await;
        if let Some(session) = sessions.get(&server.name)
            && !session.is_ended()
            && Arc::ptr_eq(&session.server, server)
        {
            return Ok(session.clone());
        }
        let params = bridge_params(&json!({}));
        let session = Session::start(
            server.clone(),
            None,
            BRIDGE_VERSION.into(),
            params,
            state.idle_timeout,
            &state.connect,
        )
        .await
        .map_err(|e| RpcError::internal(e.to_string()))?;
        if let Some(old) = sessions.insert(server.name.clone(), session.clone()) {
            old.end().await;
        }
        Ok(session)
    }

    /// Ends every bridge session (shutdown).
    pub(crate) async fn end_all(&self) {
        let all: Vec<_> = self.sessions.lock().await.drain().map(|(_, s)| s).collect();
        for session in all {
            session.end().await;
        }
        self.rounds.end_all().await;
    }
}

/// The `initialize` params of a bridge session with the client capabilities it may ask
/// through (none for the shared session).
pub(super) fn bridge_params(capabilities: &Value) -> Value {
    json!({
        "protocolVersion": BRIDGE_VERSION,
        "capabilities": capabilities,
        "clientInfo": { "name": "strata-stateless-bridge", "version": env!("CARGO_PKG_VERSION") }
    })
}

/// Checks what a stateless request must carry: `_meta` with the protocol version and the
/// client's capabilities, a supported version, and headers that match the body.
fn validate(
    headers: &HeaderMap,
    message: &Value,
    method: &str,
) -> Result<(), (StatusCode, RpcError)> {
    let meta = message.pointer("/params/_meta");
    let version = meta
        .and_then(|m| m.get(META_VERSION))
        .and_then(Value::as_str);
    let Some(version) = version.filter(|_| meta.and_then(|m| m.get(META_CAPABILITIES)).is_some())
    else {
        let e = RpcError::invalid_params(format!(
            "`_meta` must carry `{META_VERSION}` and `{META_CAPABILITIES}`"
        ));
        return Err((StatusCode::BAD_REQUEST, e));
    };
    if version != STATELESS_VERSION {
        let mut e = RpcError::new(
            UNSUPPORTED_VERSION,
            format!("unsupported protocol version {version}"),
        );
        e.data = Some(json!({ "supported": [STATELESS_VERSION], "requested": version }));
        return Err((StatusCode::BAD_REQUEST, e));
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if header(VERSION_HEADER) != Some(version) || header("mcp-method") != Some(method) {
        let e = RpcError::new(
            HEADER_MISMATCH,
            "MCP-Protocol-Version and Mcp-Method must match the body",
        );
        return Err((StatusCode::BAD_REQUEST, e));
    }
    Ok(())
}

/// Drops the per-request protocol fields of `_meta` (`io.modelcontextprotocol/…`: the
/// stateless client's capabilities and the like): they are for the gateway, not the upstream.
pub(super) fn strip_protocol_meta(params: &mut Option<Value>) {
    if let Some(meta) = params
        .as_mut()
        .and_then(|p| p.get_mut("_meta"))
        .and_then(Value::as_object_mut)
    {
        meta.retain(|key, _| !key.starts_with("io.modelcontextprotocol/"));
    }
}

/// Answers one stateless request through the server's bridge session.
pub(super) async fn handle(
    state: &McpState,
    server: &Arc<VirtualServer>,
    caller: Option<&Caller>,
    headers: &HeaderMap,
    message: Value,
) -> Response {
    let id = message.get("id").cloned().unwrap_or(Value::Null);
    let method = message
        .get("method")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if let Err((status, e)) = validate(headers, &message, &method) {
        return error(status, &id, e);
    }
    if matches!(
        method.as_str(),
        "initialize"
            | "ping"
            | "logging/setLevel"
            | "resources/subscribe"
            | "resources/unsubscribe"
    ) {
        return error(
            StatusCode::NOT_FOUND,
            &id,
            RpcError::method_not_found(&method),
        );
    }
    if method == "subscriptions/listen" {
        let listening = super::bridge_listen::listen(
            state,
            server,
            caller,
            &id,
            &message,
            bridge_params(&json!({})),
            BRIDGE_VERSION,
        );
        return listening
            .await
            .unwrap_or_else(|e| error(StatusCode::BAD_GATEWAY, &id, e));
    }
    let params = message.get("params").cloned();
    if let Some(capabilities) = super::mrtr::interactive(&method, params.as_ref()) {
        let rounds = &state.bridges.rounds;
        let request = super::mrtr::Interactive {
            id: &id,
            method: &method,
            params,
            capabilities,
        };
        let outcome = rounds.handle(state, server, caller, request).await;
        return answer(id, outcome);
    }
    let session = match state.bridges.session(state, server).await {
        Ok(session) => session,
        Err(e) => return error(StatusCode::BAD_GATEWAY, &id, e),
    };
    let outcome = if method == "server/discover" {
        Ok(discover(&session))
    } else {
        let mut params = params;
        strip_protocol_meta(&mut params);
        let stream = session.streams.open();
        let outcome = virtual_server::handle(&session, caller, stream, &id, &method, params).await;
        session.streams.finish(stream, Arc::from(""));
        outcome
    };
    answer(id, outcome)
}

/// The JSON-RPC answer to a bridged request.
fn answer(id: Value, outcome: Result<Value, RpcError>) -> Response {
    match outcome {
        Ok(mut result) => {
            if let Some(object) = result.as_object_mut() {
                object
                    .entry("resultType")
                    .or_insert_with(|| "complete".into());
            }
            Json(jsonrpc::response(id, Ok(result))).into_response()
        }
        Err(e) => {
            let status = match e.code {
                code::METHOD_NOT_FOUND => StatusCode::NOT_FOUND,
                code::INVALID_PARAMS | code::INVALID_REQUEST => StatusCode::BAD_REQUEST,
                _ => StatusCode::OK,
            };
            error(status, &id, e)
        }
    }
}

/// `server/discover` from what the bridge session's upstreams agreed to.
fn discover(session: &Session) -> Value {
    let init = virtual_server::initialize_result(session);
    let mut result = json!({
        "supportedVersions": [STATELESS_VERSION],
        "capabilities": init["capabilities"],
        "_meta": { "io.modelcontextprotocol/serverInfo": init["serverInfo"] },
    });
    if let Some(instructions) = init.get("instructions") {
        result["instructions"] = instructions.clone();
    }
    result
}
