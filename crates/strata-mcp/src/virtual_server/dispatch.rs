//! A client's request to a virtual server, routed to the upstream that owns what it names.

use serde_json::{Value, json};

use super::lists::{self, Kind};
use crate::jsonrpc::{RpcError, code, param_str};
use crate::session::Session;

/// Pages read when a name must be found before it was listed.
const MAX_LOOKUP_PAGES: usize = 100;

/// Answers one request of the client (anything but `initialize`).
pub(crate) async fn handle(
    session: &Session,
    stream: u64,
    id: &Value,
    method: &str,
    params: Option<Value>,
) -> Result<Value, RpcError> {
    match method {
        "ping" => Ok(json!({})),
        "tools/list" => lists::page(session, stream, id, Kind::Tools, params).await,
        "prompts/list" => lists::page(session, stream, id, Kind::Prompts, params).await,
        "resources/list" => lists::page(session, stream, id, Kind::Resources, params).await,
        "resources/templates/list" => {
            lists::page(session, stream, id, Kind::Templates, params).await
        }
        "tools/call" | "prompts/get" => {
            let kind = if method == "tools/call" {
                Kind::Tools
            } else {
                Kind::Prompts
            };
            let name = param_str(params.as_ref(), "name")
                .ok_or_else(|| RpcError::invalid_params("`name` is required"))?
                .to_string();
            let (index, original) = resolve_name(session, stream, id, kind, &name).await?;
            let mut params = params.unwrap_or_default();
            params["name"] = original.into();
            session
                .forward(index, stream, id, method, Some(params))
                .await
        }
        "resources/read" | "resources/subscribe" | "resources/unsubscribe" => {
            let uri = param_str(params.as_ref(), "uri")
                .ok_or_else(|| RpcError::invalid_params("`uri` is required"))?
                .to_string();
            by_resource(session, stream, id, method, &uri, params).await
        }
        "completion/complete" => complete(session, stream, id, params).await,
        "logging/setLevel" => {
            for index in session.offering("logging") {
                session
                    .forward(index, stream, id, method, params.clone())
                    .await?;
            }
            Ok(json!({}))
        }
        // With a single upstream, what the gateway does not know still reaches it.
        _ if session.server.upstreams.len() == 1 => {
            session.forward(0, stream, id, method, params).await
        }
        _ => Err(RpcError::method_not_found(method)),
    }
}

fn lookup(session: &Session, kind: Kind, name: &str) -> Option<(usize, String)> {
    let names = session
        .names
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let table = if kind == Kind::Tools {
        &names.tools
    } else {
        &names.prompts
    };
    table.get(name).cloned()
}

/// The upstream and original name behind an exposed tool or prompt name; lists the upstreams
/// when the client calls a name it has not listed in this session.
async fn resolve_name(
    session: &Session,
    stream: u64,
    id: &Value,
    kind: Kind,
    name: &str,
) -> Result<(usize, String), RpcError> {
    if let Some(found) = lookup(session, kind, name) {
        return Ok(found);
    }
    let mut params = None;
    for _ in 0..MAX_LOOKUP_PAGES {
        let page = lists::page(session, stream, id, kind, params).await?;
        if let Some(found) = lookup(session, kind, name) {
            return Ok(found);
        }
        match page.get("nextCursor") {
            Some(cursor) => params = Some(json!({ "cursor": cursor })),
            None => break,
        }
    }
    let server = &session.server;
    if server.upstreams.len() == 1 && !server.prefixed {
        let upstream = session.upstream_name(0);
        let allowed = kind != Kind::Tools || server.allows_tool(upstream, name);
        if allowed && server.tool_override(upstream, name).is_none() {
            // Let the only upstream answer for a name it does not know, in its own words.
            return Ok((0, name.to_string()));
        }
    }
    let what = if kind == Kind::Tools {
        "tool"
    } else {
        "prompt"
    };
    Err(RpcError::invalid_params(format!("unknown {what}: {name}")))
}

/// The upstream that owns `uri`, if the session knows.
fn resource_owner(session: &Session, uri: &str) -> Option<usize> {
    let names = session
        .names
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(index) = names.resources.get(uri) {
        return Some(*index);
    }
    names
        .templates
        .iter()
        .filter(|(prefix, _)| !prefix.is_empty() && uri.starts_with(prefix.as_str()))
        .max_by_key(|(prefix, _)| prefix.len())
        .map(|(_, index)| *index)
}

/// Routes a request about a resource by the URI's owner; when no upstream is known to own
/// it, asks each upstream that has resources until one does.
async fn by_resource(
    session: &Session,
    stream: u64,
    id: &Value,
    method: &str,
    uri: &str,
    params: Option<Value>,
) -> Result<Value, RpcError> {
    if let Some(index) = resource_owner(session, uri) {
        return session.forward(index, stream, id, method, params).await;
    }
    let candidates = session.offering("resources");
    let mut last = RpcError::new(
        code::RESOURCE_NOT_FOUND,
        format!("resource not found: {uri}"),
    );
    for index in candidates {
        match session
            .forward(index, stream, id, method, params.clone())
            .await
        {
            Ok(result) => {
                let mut names = session
                    .names
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                names.resources.insert(uri.to_string(), index);
                return Ok(result);
            }
            Err(error) if matches!(error.code, code::RESOURCE_NOT_FOUND | code::INVALID_PARAMS) => {
                last = error;
            }
            Err(error) => return Err(error),
        }
    }
    Err(last)
}

/// `completion/complete`: to the owner of the prompt or resource the `ref` names.
async fn complete(
    session: &Session,
    stream: u64,
    id: &Value,
    params: Option<Value>,
) -> Result<Value, RpcError> {
    let mut params = params.ok_or_else(|| RpcError::invalid_params("`ref` is required"))?;
    let reference = params.get("ref").cloned().unwrap_or_default();
    match reference.get("type").and_then(Value::as_str) {
        Some("ref/prompt") => {
            let name = param_str(Some(&reference), "name")
                .ok_or_else(|| RpcError::invalid_params("`ref.name` is required"))?;
            let (index, original) = resolve_name(session, stream, id, Kind::Prompts, name).await?;
            params["ref"]["name"] = original.into();
            session
                .forward(index, stream, id, "completion/complete", Some(params))
                .await
        }
        Some("ref/resource") => {
            let uri = param_str(Some(&reference), "uri")
                .ok_or_else(|| RpcError::invalid_params("`ref.uri` is required"))?
                .to_string();
            by_resource(
                session,
                stream,
                id,
                "completion/complete",
                &uri,
                Some(params),
            )
            .await
        }
        _ => Err(RpcError::invalid_params(
            "`ref.type` must be ref/prompt or ref/resource",
        )),
    }
}
