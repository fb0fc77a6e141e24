//! The stateless protocol revision (2026-07-28) on the same `/mcp/{server}` path: a request
//! without `Mcp-Session-Id` that is not `initialize`, from a client that does not claim a
//! stateful revision, is answered without a session.
//!
//! Each request goes to the upstream that owns what it names, with the client's own `_meta`
//! and `Mcp-*` headers, and the upstream's answer (status, JSON or stream) comes back as it is;
//! validation of `_meta`, headers and capabilities stays with the upstream, which knows its
//! tools. The gateway itself checks that `Mcp-Method`/`Mcp-Name` match the body whenever it
//! renames, merges `server/discover` and list pages over several upstreams, and applies the
//! virtual server's filters and names. Only URL upstreams take part: a stdio upstream has no
//! stateless form.

mod bridge;
mod bridge_listen;
mod listen;
mod mrtr;
mod upstream;

use std::sync::Arc;

use axum::Json;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use strata_config::UrlTransport;
use strata_policy::access::Item;

use crate::McpError;
use crate::audit::{Ending, Operation};
use crate::auth::Caller;
use crate::http::McpState;
use crate::http::guard::{SUPPORTED_VERSIONS, VERSION_HEADER};
use crate::jsonrpc::{self, RpcError, code};
use crate::session::Names;
use crate::virtual_server::cursor::{self, Position};
use crate::virtual_server::lists::{Kind, rewrite_page};
use crate::virtual_server::merge::{PROXIED, merge_flags};
use crate::virtual_server::policy::not_found;
use crate::virtual_server::{VirtualServer, names};

pub(crate) use bridge::Bridges;
use bridge::HEADER_MISMATCH;

/// The stateless revision.
const STATELESS_VERSION: &str = "2026-07-28";

/// Whether a POST without a session id belongs to the stateless revision: a message that names
/// a protocol version in its `_meta`, or in its header a version that is not one of the
/// stateful revisions. (Without either it is a stateful client: an `initialize`, or a request
/// that forgot its session id.) A stateless client's `initialize` goes upstream too, and gets
/// the upstream's 404: the method does not exist in that revision.
pub(crate) fn applies(headers: &HeaderMap, message: &Value) -> bool {
    let header = headers.get(VERSION_HEADER).and_then(|v| v.to_str().ok());
    let in_meta = message
        .pointer("/params/_meta/io.modelcontextprotocol~1protocolVersion")
        .is_some();
    in_meta || header.is_some_and(|v| !SUPPORTED_VERSIONS.contains(&v))
}

fn error(status: StatusCode, id: &Value, error: RpcError) -> Response {
    (status, Json(jsonrpc::response(id.clone(), Err(error)))).into_response()
}

/// The HTTP upstreams of the server, with their indexes.
fn http_upstreams(server: &VirtualServer) -> Vec<usize> {
    (0..server.upstreams.len())
        .filter(|i| server.upstreams[*i].url.is_some())
        .collect()
}

/// Answers one stateless request.
pub(crate) async fn handle(
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
    // Upstreams that only speak the stateful revisions are reached through a bridge session
    // (which audits and applies the roles itself).
    if server
        .upstreams
        .iter()
        .any(|u| u.url.is_none() || u.transport != UrlTransport::StreamableHttp)
    {
        return bridge::handle(state, server, caller, headers, message).await;
    }
    let started = std::time::Instant::now();
    let auditor = &server.policy.auditor;
    if !auditor.records(server) {
        return direct(state, server, caller, headers, message, &id, &method).await;
    }
    let params = message.get("params").cloned();
    let response = direct(state, server, caller, headers, message, &id, &method).await;
    let outcome = if response.status().is_success() {
        Ok(Value::Null)
    } else {
        Err(RpcError::new(
            code::INTERNAL_ERROR,
            format!("answered with HTTP {}", response.status().as_u16()),
        ))
    };
    let op = Operation {
        server,
        caller,
        session: None,
        method: &method,
        params: params.as_ref(),
        upstream: None,
        started,
    };
    auditor.operation(&op, Ending::Answered(&outcome)).await;
    response
}

/// Answers a stateless request of HTTP upstreams only.
async fn direct(
    state: &McpState,
    server: &Arc<VirtualServer>,
    caller: Option<&Caller>,
    headers: &HeaderMap,
    message: Value,
    id: &Value,
    method: &str,
) -> Response {
    if let Err(e) = permit(server, caller, &message, method) {
        return error(StatusCode::BAD_REQUEST, id, e);
    }
    let targets = http_upstreams(server);
    if targets.is_empty() {
        let e = RpcError::method_not_found(&format!(
            "{method} (server `{}` has no upstream that speaks 2026-07-28)",
            server.name
        ));
        return error(StatusCode::NOT_FOUND, id, e);
    }
    let renames = server.prefixed
        || server.upstreams.len() > 1
        || server.has_tool_rules()
        || server.governs(caller);
    let result = if !renames {
        // One upstream, nothing renamed or hidden: the request and its answer pass as they are.
        upstream::relay(
            &state.connect.client,
            &server.upstreams[targets[0]],
            headers,
            &message,
            None,
        )
        .await
    } else {
        route(state, server, caller, &targets, headers, message, method).await
    };
    result.unwrap_or_else(IntoResponse::into_response)
}

/// The list kind of a resource listing method.
fn resource_list(method: &str) -> Option<Kind> {
    match method {
        "resources/list" => Some(Kind::Resources),
        "resources/templates/list" => Some(Kind::Templates),
        _ => None,
    }
}

/// Pages read when checking that an upstream has a name.
const MAX_LOOKUP_PAGES: usize = 100;

/// Whether upstream `index` lists the tool (for `tools/call`) or prompt (`prompts/get`)
/// named `original`, asked with the client's own `_meta` and headers (`Mcp-Method` set to
/// the list, no `Mcp-Name`).
async fn upstream_has(
    state: &McpState,
    server: &VirtualServer,
    index: usize,
    headers: &HeaderMap,
    message: &Value,
    original: &str,
) -> Result<bool, McpError> {
    let tool = message.get("method").and_then(Value::as_str) == Some("tools/call");
    let (method, items) = if tool {
        ("tools/list", "tools")
    } else {
        ("prompts/list", "prompts")
    };
    let mut headers = headers.clone();
    headers.remove("mcp-name");
    headers.insert("mcp-method", axum::http::HeaderValue::from_static(method));
    let mut params = json!({});
    if let Some(meta) = message.pointer("/params/_meta") {
        params["_meta"] = meta.clone();
    }
    for _ in 0..MAX_LOOKUP_PAGES {
        let list =
            json!({ "jsonrpc": "2.0", "id": "strata-lookup", "method": method, "params": params });
        let upstream = &server.upstreams[index];
        let (_, answer) =
            upstream::call(&state.connect.client, upstream, &headers, &list, None).await?;
        let Some(result) = answer.get("result") else {
            return Ok(false);
        };
        let listed = result[items].as_array().into_iter().flatten();
        if listed.clone().any(|item| item["name"] == original) {
            return Ok(true);
        }
        match result.get("nextCursor").filter(|c| c.is_string()) {
            Some(cursor) => params["cursor"] = cursor.clone(),
            None => return Ok(false),
        }
    }
    Ok(false)
}

/// Whether the roles let `caller` make this call (the error is the missing item's).
fn permit(
    server: &VirtualServer,
    caller: Option<&Caller>,
    message: &Value,
    method: &str,
) -> Result<(), RpcError> {
    let params = message.get("params");
    let text = |field: &str| params.and_then(|p| p.get(field)).and_then(Value::as_str);
    let empty = json!({});
    let args = params.and_then(|p| p.get("arguments")).unwrap_or(&empty);
    match method {
        "tools/call" => server.permit(caller, Item::Tool, text("name").unwrap_or_default(), args),
        "prompts/get" => {
            server.permit(caller, Item::Prompt, text("name").unwrap_or_default(), args)
        }
        "resources/read" => server.permit(
            caller,
            Item::Resource,
            text("uri").unwrap_or_default(),
            &empty,
        ),
        "completion/complete" => {
            let reference = |field: &str| {
                params
                    .and_then(|p| p.pointer(&format!("/ref/{field}")))
                    .and_then(Value::as_str)
            };
            match (reference("name"), reference("uri")) {
                (Some(prompt), _) => server.permit(caller, Item::Prompt, prompt, &empty),
                (None, Some(uri)) => server.permit(caller, Item::Resource, uri, &empty),
                _ => Ok(()),
            }
        }
        _ => Ok(()),
    }
}

async fn route(
    state: &McpState,
    server: &VirtualServer,
    caller: Option<&Caller>,
    targets: &[usize],
    headers: &HeaderMap,
    mut message: Value,
    method: &str,
) -> Result<Response, McpError> {
    let id = message.get("id").cloned().unwrap_or(Value::Null);
    let client = &state.connect.client;
    let governed = server.governs(caller);
    match method {
        "server/discover" => discover(state, server, targets, headers, &message).await,
        "tools/list" | "prompts/list" => {
            let kind = if method == "tools/list" {
                Kind::Tools
            } else {
                Kind::Prompts
            };
            list(state, server, caller, targets, headers, message, kind).await
        }
        "tools/call" | "prompts/get" => {
            let exposed = message
                .pointer("/params/name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            if let Some(claimed) = headers.get("mcp-name").and_then(|v| v.to_str().ok())
                && claimed != exposed
            {
                let e = RpcError::new(
                    HEADER_MISMATCH,
                    format!("Mcp-Name `{claimed}` does not match the body's `{exposed}`"),
                );
                return Ok(error(StatusCode::BAD_REQUEST, &id, e));
            }
            let Some((index, original)) =
                resolve(server, targets, method == "tools/call", &exposed)
            else {
                let what = if method == "tools/call" {
                    "tool"
                } else {
                    "prompt"
                };
                return Ok(error(
                    StatusCode::BAD_REQUEST,
                    &id,
                    RpcError::invalid_params(format!("unknown {what}: {exposed}")),
                ));
            };
            if governed && !upstream_has(state, server, index, headers, &message, &original).await?
            {
                // A missing name reads like a forbidden one: the upstream is not asked to call it.
                let item = if method == "tools/call" {
                    Item::Tool
                } else {
                    Item::Prompt
                };
                let e = not_found(item, &exposed);
                return Ok(error(StatusCode::BAD_REQUEST, &id, e));
            }
            message["params"]["name"] = original.clone().into();
            upstream::relay(
                client,
                &server.upstreams[index],
                headers,
                &message,
                Some(&original),
            )
            .await
        }
        "subscriptions/listen" if targets.len() > 1 => {
            listen::merged(state, server, targets, headers, &message).await
        }
        "resources/read"
        | "completion/complete"
        | "resources/templates/list"
        | "resources/list"
            if targets.len() > 1 || governed =>
        {
            // Whoever knows the resource answers; a not-found goes on to the next upstream.
            let mut last = None;
            for &index in targets {
                let (status, mut answer) =
                    upstream::call(client, &server.upstreams[index], headers, &message, None)
                        .await?;
                let not_found = answer.pointer("/error/code").and_then(Value::as_i64)
                    == Some(code::RESOURCE_NOT_FOUND);
                if !not_found {
                    if let (Some(kind), Some(result)) =
                        (resource_list(method), answer.get_mut("result"))
                    {
                        server.filter_list(caller, kind, result);
                    }
                    return Ok((status, Json(answer)).into_response());
                }
                last = Some((status, answer));
            }
            if governed && method == "resources/read" {
                // A missing resource reads like a forbidden one.
                let uri = message.pointer("/params/uri").and_then(Value::as_str);
                let e = not_found(Item::Resource, uri.unwrap_or_default());
                return Ok(error(StatusCode::BAD_REQUEST, &id, e));
            }
            Ok(last.map_or_else(
                || StatusCode::NOT_FOUND.into_response(),
                |(s, a)| (s, Json(a)).into_response(),
            ))
        }
        // With one upstream, what the gateway does not know still reaches it, unless roles
        // govern the caller: then only what the gateway can check passes.
        _ if targets.len() == 1
            && (!governed || matches!(method, "ping" | "subscriptions/listen")) =>
        {
            upstream::relay(
                client,
                &server.upstreams[targets[0]],
                headers,
                &message,
                None,
            )
            .await
        }
        _ => Ok(error(
            StatusCode::NOT_FOUND,
            &id,
            RpcError::method_not_found(method),
        )),
    }
}

/// The upstream and original name behind an exposed tool or prompt name, without listing:
/// an override's name, or the upstream prefix.
fn resolve(
    server: &VirtualServer,
    targets: &[usize],
    tool: bool,
    exposed: &str,
) -> Option<(usize, String)> {
    for &index in targets {
        let upstream = &server.upstreams[index].name;
        if tool && let Some((name, _)) = server.renamed_tool(upstream, exposed) {
            return Some((index, name));
        }
        let original = if server.prefixed {
            let unprefixed = exposed
                .strip_prefix(upstream.as_str())
                .and_then(|rest| rest.strip_prefix('_'));
            let Some(original) = unprefixed else { continue };
            original.to_string()
        } else {
            exposed.to_string()
        };
        let matches = if tool {
            server.tool_name(upstream, &original) == exposed
                && server.allows_tool(upstream, &original)
        } else {
            names::exposed(upstream, &original, server.prefixed) == exposed
        };
        if matches {
            return Some((index, original));
        }
    }
    None
}

/// One page of a merged list: one upstream page per client page, with a composite cursor.
async fn list(
    state: &McpState,
    server: &VirtualServer,
    caller: Option<&Caller>,
    targets: &[usize],
    headers: &HeaderMap,
    mut message: Value,
    kind: Kind,
) -> Result<Response, McpError> {
    let id = message.get("id").cloned().unwrap_or(Value::Null);
    let position = match message.pointer("/params/cursor").and_then(Value::as_str) {
        None => Position {
            upstream: targets[0],
            cursor: None,
        },
        Some(c) => match cursor::decode(c, server.upstreams.len()) {
            Some(p) => p,
            None => {
                return Ok(error(
                    StatusCode::BAD_REQUEST,
                    &id,
                    RpcError::invalid_params(format!("invalid cursor: {c}")),
                ));
            }
        },
    };
    match &position.cursor {
        Some(c) => message["params"]["cursor"] = c.clone(),
        None => {
            if let Some(params) = message.get_mut("params").and_then(Value::as_object_mut) {
                params.remove("cursor");
            }
        }
    }
    let (status, mut answer) = upstream::call(
        &state.connect.client,
        &server.upstreams[position.upstream],
        headers,
        &message,
        None,
    )
    .await?;
    if let Some(result) = answer.get_mut("result") {
        rewrite_page(
            server,
            position.upstream,
            kind,
            result,
            &mut Names::default(),
        );
        server.filter_list(caller, kind, result);
        let next = match result.get("nextCursor").filter(|c| c.is_string()) {
            Some(c) => Some(Position {
                upstream: position.upstream,
                cursor: Some(c.clone()),
            }),
            None => targets
                .iter()
                .find(|i| **i > position.upstream)
                .map(|&upstream| Position {
                    upstream,
                    cursor: None,
                }),
        };
        if let Some(object) = result.as_object_mut() {
            match next {
                Some(next) => object.insert("nextCursor".into(), cursor::encode(&next).into()),
                None => object.remove("nextCursor"),
            };
        }
    }
    Ok((status, Json(answer)).into_response())
}

/// `server/discover` over several upstreams: the versions all of them speak, the capabilities
/// any of them has.
async fn discover(
    state: &McpState,
    server: &VirtualServer,
    targets: &[usize],
    headers: &HeaderMap,
    message: &Value,
) -> Result<Response, McpError> {
    let mut results = Vec::new();
    for &index in targets {
        let (status, answer) = upstream::call(
            &state.connect.client,
            &server.upstreams[index],
            headers,
            message,
            None,
        )
        .await?;
        if answer.get("error").is_some() {
            return Ok((status, Json(answer)).into_response());
        }
        results.push(answer["result"].clone());
    }
    let mut versions: Option<Vec<Value>> = None;
    for result in &results {
        let these = result["supportedVersions"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        versions = Some(match versions {
            None => these,
            Some(all) => all.into_iter().filter(|v| these.contains(v)).collect(),
        });
    }
    let mut capabilities = serde_json::Map::new();
    for key in PROXIED {
        let offered: Vec<&Value> = results
            .iter()
            .filter_map(|r| r["capabilities"].get(key))
            .collect();
        if !offered.is_empty() {
            capabilities.insert(key.to_string(), merge_flags(&offered));
        }
    }
    let mut result = json!({
        "supportedVersions": versions.unwrap_or_default(),
        "capabilities": capabilities,
        "_meta": { "io.modelcontextprotocol/serverInfo": { "name": format!("strata/{}", server.name), "version": env!("CARGO_PKG_VERSION") } },
    });
    if let Some(instructions) = &server.instructions {
        result["instructions"] = instructions.clone().into();
    }
    let id = message.get("id").cloned().unwrap_or(Value::Null);
    Ok(Json(jsonrpc::response(id, Ok(result))).into_response())
}
