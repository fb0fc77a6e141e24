//! Merged lists (`tools/list`, `prompts/list`, `resources/list`, `resources/templates/list`):
//! one upstream page per client page, with a composite cursor that says which upstream comes
//! next and where it stopped. Names are rewritten and remembered for the calls that follow.

use serde_json::Value;

use super::VirtualServer;
use super::cursor::{self, Position};
use crate::jsonrpc::RpcError;
use crate::session::{Names, Session};

/// Which list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Tools,
    Prompts,
    Resources,
    Templates,
}

impl Kind {
    pub(crate) fn method(self) -> &'static str {
        match self {
            Kind::Tools => "tools/list",
            Kind::Prompts => "prompts/list",
            Kind::Resources => "resources/list",
            Kind::Templates => "resources/templates/list",
        }
    }

    fn capability(self) -> &'static str {
        match self {
            Kind::Tools => "tools",
            Kind::Prompts => "prompts",
            Kind::Resources | Kind::Templates => "resources",
        }
    }

    pub(crate) fn items(self) -> &'static str {
        match self {
            Kind::Tools => "tools",
            Kind::Prompts => "prompts",
            Kind::Resources => "resources",
            Kind::Templates => "resourceTemplates",
        }
    }
}

/// The upstreams that offer `kind`, from index `from` on.
fn offering(session: &Session, kind: Kind, from: usize) -> impl Iterator<Item = usize> + '_ {
    session
        .offering(kind.capability())
        .into_iter()
        .filter(move |i| *i >= from)
}

/// One page of a merged list.
pub(crate) async fn page(
    session: &Session,
    stream: u64,
    client_id: &Value,
    kind: Kind,
    params: Option<Value>,
) -> Result<Value, RpcError> {
    let upstreams = session.server.upstreams.len();
    let mut position = match params.as_ref().and_then(|p| p.get("cursor")) {
        None | Some(Value::Null) => Position {
            upstream: 0,
            cursor: None,
        },
        Some(Value::String(c)) => cursor::decode(c, upstreams)
            .ok_or_else(|| RpcError::invalid_params(format!("invalid cursor: {c}")))?,
        Some(_) => return Err(RpcError::invalid_params("`cursor` must be a string")),
    };
    loop {
        let Some(index) = offering(session, kind, position.upstream).next() else {
            let mut empty = serde_json::Map::new();
            empty.insert(kind.items().into(), Value::Array(Vec::new()));
            return Ok(Value::Object(empty));
        };
        if index != position.upstream {
            position = Position {
                upstream: index,
                cursor: None,
            };
        }
        let mut upstream_params = params
            .clone()
            .unwrap_or_else(|| Value::Object(Default::default()));
        match &position.cursor {
            Some(c) => upstream_params["cursor"] = c.clone(),
            None => {
                if let Some(object) = upstream_params.as_object_mut() {
                    object.remove("cursor");
                }
            }
        }
        let params = (!upstream_params
            .as_object()
            .is_some_and(serde_json::Map::is_empty))
        .then_some(upstream_params);
        let result = session
            .forward(index, stream, client_id, kind.method(), params.clone())
            .await;
        let mut result = match result {
            Ok(result) => result,
            // With several upstreams one failing does not hide the others' items.
            Err(error) if upstreams > 1 => {
                tracing::warn!(upstream = %session.upstream_name(index), error = %error.message, "{} failed", kind.method());
                position = Position {
                    upstream: index + 1,
                    cursor: None,
                };
                continue;
            }
            Err(error) => return Err(error),
        };
        rewrite(session, index, kind, &mut result);
        let next = match result.get("nextCursor").filter(|c| c.is_string()) {
            Some(upstream_cursor) => Some(Position {
                upstream: index,
                cursor: Some(upstream_cursor.clone()),
            }),
            None => offering(session, kind, index + 1)
                .next()
                .map(|upstream| Position {
                    upstream,
                    cursor: None,
                }),
        };
        if let Some(object) = result.as_object_mut() {
            match next {
                Some(next) => {
                    object.insert("nextCursor".into(), cursor::encode(&next).into());
                }
                None => {
                    object.remove("nextCursor");
                }
            }
        }
        return Ok(result);
    }
}

/// Applies the server's filter and names to one upstream page, and remembers what maps where.
fn rewrite(session: &Session, index: usize, kind: Kind, result: &mut Value) {
    let mut names = session
        .names
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    rewrite_page(&session.server, index, kind, result, &mut names);
}

/// Applies the server's filter and names to one page of upstream `index`, recording in `names`
/// what maps where (a stateless request passes a scratch table).
pub(crate) fn rewrite_page(
    server: &VirtualServer,
    index: usize,
    kind: Kind,
    result: &mut Value,
    names: &mut Names,
) {
    let upstream = server
        .upstreams
        .get(index)
        .map_or("?", |u| u.name.as_str())
        .to_string();
    let Some(items) = result.get_mut(kind.items()).and_then(Value::as_array_mut) else {
        return;
    };
    match kind {
        Kind::Tools => items.retain_mut(|tool| {
            let Some(original) = tool.get("name").and_then(Value::as_str).map(String::from) else {
                return false;
            };
            if !server.allows_tool(&upstream, &original) {
                return false;
            }
            let exposed = server.tool_name(&upstream, &original);
            if let Some((owner, _)) = names.tools.get(&exposed)
                && *owner != index
            {
                // Two upstreams expose the same name (prefix: never): the first one listed wins.
                if *owner < index {
                    return false;
                }
            }
            if let Some(description) = server
                .tool_override(&upstream, &original)
                .and_then(|o| o.description.clone())
            {
                tool["description"] = description.into();
            }
            tool["name"] = exposed.clone().into();
            names.tools.insert(exposed, (index, original));
            true
        }),
        Kind::Prompts => items.retain_mut(|prompt| {
            let Some(original) = prompt.get("name").and_then(Value::as_str).map(String::from)
            else {
                return false;
            };
            let exposed = super::names::exposed(&upstream, &original, server.prefixed);
            if names
                .prompts
                .get(&exposed)
                .is_some_and(|(owner, _)| *owner < index)
            {
                return false;
            }
            prompt["name"] = exposed.clone().into();
            names.prompts.insert(exposed, (index, original));
            true
        }),
        Kind::Resources => {
            for resource in items.iter() {
                if let Some(uri) = resource.get("uri").and_then(Value::as_str) {
                    names.resources.entry(uri.to_string()).or_insert(index);
                }
            }
        }
        Kind::Templates => {
            for template in items.iter() {
                if let Some(t) = template.get("uriTemplate").and_then(Value::as_str) {
                    let prefix = t.split('{').next().unwrap_or_default().to_string();
                    if !names.templates.iter().any(|(p, _)| *p == prefix) {
                        names.templates.push((prefix, index));
                    }
                }
            }
        }
    }
}
