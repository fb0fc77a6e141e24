//! A client's request to a virtual server, routed to the upstream that owns what it names.

use std::time::Instant;

use serde_json::{Value, json};
use strata_policy::access::Item;

use super::lists::{self, Kind};
use super::policy::not_found;
use crate::audit::{Ending, Operation};
use crate::auth::Caller;
use crate::jsonrpc::{RpcError, code, param_str};
use crate::session::Session;

/// Pages read when a name must be found before it was listed.
const MAX_LOOKUP_PAGES: usize = 100;

/// Answers one request of `caller` (anything but `initialize`) and records it in the audit
/// log before the answer leaves.
pub(crate) async fn handle(
    session: &Session,
    caller: Option<&Caller>,
    stream: u64,
    id: &Value,
    method: &str,
    params: Option<Value>,
) -> Result<Value, RpcError> {
    if method == "ping" {
        return Ok(json!({}));
    }
    let started = Instant::now();
    let auditor = &session.server.policy.auditor;
    // The params are kept for the record only when one will be written.
    let audited = auditor
        .records(&session.server)
        .then(|| params.clone())
        .flatten();
    let call = Call {
        session,
        caller,
        stream,
        id,
    };
    let (outcome, refused) = match call.dispatch(method, params).await {
        Err(Refusal::Policy(why, error)) => (Err(error), Some(why)),
        Err(Refusal::Rpc(error)) => (Err(error), None),
        Ok(result) => (Ok(result), None),
    };
    if !auditor.records(&session.server) {
        return outcome;
    }
    let upstream = answered_by(session, method, audited.as_ref());
    let op = Operation {
        server: &session.server,
        caller,
        session: (!session.id.is_empty()).then_some(session.id.as_str()),
        method,
        params: audited.as_ref(),
        upstream: upstream.map(|i| session.upstream_name(i)),
        started,
    };
    let ending = match &refused {
        Some(why) => Ending::Refused(why),
        None => Ending::Answered(&outcome),
    };
    auditor.operation(&op, ending).await;
    outcome
}

/// Why a request was not answered by an upstream.
enum Refusal {
    /// The gateway's policy said no (audited as denied); the error the client gets.
    Policy(&'static str, RpcError),
    Rpc(RpcError),
}

impl From<RpcError> for Refusal {
    fn from(error: RpcError) -> Self {
        Refusal::Rpc(error)
    }
}

/// One request in flight.
struct Call<'a> {
    session: &'a Session,
    caller: Option<&'a Caller>,
    stream: u64,
    id: &'a Value,
}

impl Call<'_> {
    fn permit(&self, item: Item, name: &str, args: &Value) -> Result<(), Refusal> {
        self.session
            .server
            .permit(self.caller, item, name, args)
            .map_err(|e| Refusal::Policy("not permitted", e))
    }

    async fn page(&self, kind: Kind, params: Option<Value>) -> Result<Value, Refusal> {
        let (session, stream, id) = (self.session, self.stream, self.id);
        let mut page = lists::page(session, stream, id, kind, params).await?;
        session.server.filter_list(self.caller, kind, &mut page);
        Ok(page)
    }

    async fn dispatch(&self, method: &str, params: Option<Value>) -> Result<Value, Refusal> {
        let (session, stream, id) = (self.session, self.stream, self.id);
        let governed = session.server.governs(self.caller);
        Ok(match method {
            "tools/list" => self.page(Kind::Tools, params).await?,
            "prompts/list" => self.page(Kind::Prompts, params).await?,
            "resources/list" => self.page(Kind::Resources, params).await?,
            "resources/templates/list" => self.page(Kind::Templates, params).await?,
            "tools/call" | "prompts/get" => {
                let (kind, item) = if method == "tools/call" {
                    (Kind::Tools, Item::Tool)
                } else {
                    (Kind::Prompts, Item::Prompt)
                };
                let name = param_str(params.as_ref(), "name")
                    .ok_or_else(|| RpcError::invalid_params("`name` is required"))?
                    .to_string();
                let empty = json!({});
                let args = params
                    .as_ref()
                    .and_then(|p| p.get("arguments"))
                    .unwrap_or(&empty);
                self.permit(item, &name, args)?;
                if item == Item::Tool {
                    session
                        .server
                        .admit_call(self.caller, &name)
                        .await
                        .map_err(|e| Refusal::Policy("rate limited", e))?;
                }
                let (index, original) =
                    resolve_name(session, stream, id, kind, &name, !governed).await?;
                let mut params = params.unwrap_or_default();
                params["name"] = original.into();
                session
                    .forward(index, stream, id, method, Some(params))
                    .await?
            }
            "resources/read" | "resources/subscribe" | "resources/unsubscribe" => {
                let uri = param_str(params.as_ref(), "uri")
                    .ok_or_else(|| RpcError::invalid_params("`uri` is required"))?
                    .to_string();
                self.permit(Item::Resource, &uri, &json!({}))?;
                let answer = by_resource(session, stream, id, method, &uri, params).await;
                match answer {
                    // A missing resource reads like a forbidden one, whoever says it.
                    Err(e) if governed && e.code == code::RESOURCE_NOT_FOUND => {
                        return Err(not_found(Item::Resource, &uri).into());
                    }
                    other => other?,
                }
            }
            "completion/complete" => {
                let reference = params.as_ref().and_then(|p| p.get("ref"));
                let named = |field: &str| {
                    reference
                        .and_then(|r| r.get(field))
                        .and_then(Value::as_str)
                        .map(str::to_string)
                };
                if let Some(prompt) = named("name") {
                    self.permit(Item::Prompt, &prompt, &json!({}))?;
                } else if let Some(uri) = named("uri") {
                    self.permit(Item::Resource, &uri, &json!({}))?;
                }
                complete(session, stream, id, params).await?
            }
            "logging/setLevel" => {
                for index in session.offering("logging") {
                    session
                        .forward(index, stream, id, method, params.clone())
                        .await?;
                }
                json!({})
            }
            // With a single upstream, what the gateway does not know still reaches it, unless
            // roles govern the caller: then only what the gateway can check passes.
            _ if session.server.upstreams.len() == 1 && !governed => {
                session.forward(0, stream, id, method, params).await?
            }
            _ => return Err(RpcError::method_not_found(method).into()),
        })
    }
}

/// The upstream that a request naming a tool, prompt or resource went to.
fn answered_by(session: &Session, method: &str, params: Option<&Value>) -> Option<usize> {
    let name = |field: &str| param_str(params, field);
    match method {
        "tools/call" => lookup(session, Kind::Tools, name("name")?).map(|(i, _)| i),
        "prompts/get" => lookup(session, Kind::Prompts, name("name")?).map(|(i, _)| i),
        "resources/read" | "resources/subscribe" | "resources/unsubscribe" => {
            resource_owner(session, name("uri")?)
        }
        _ if session.server.upstreams.len() == 1 => Some(0),
        _ => None,
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
    pass_unknown: bool,
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
    if pass_unknown && server.upstreams.len() == 1 && !server.prefixed {
        let upstream = session.upstream_name(0);
        let allowed = kind != Kind::Tools || server.allows_tool(upstream, name);
        if allowed && server.tool_override(upstream, name).is_none() {
            // Let the only upstream answer for a name it does not know, in its own words.
            return Ok((0, name.to_string()));
        }
    }
    let item = if kind == Kind::Tools {
        Item::Tool
    } else {
        Item::Prompt
    };
    Err(not_found(item, name))
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
            let (index, original) =
                resolve_name(session, stream, id, Kind::Prompts, name, true).await?;
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
