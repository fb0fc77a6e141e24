//! `subscriptions/listen` for stateless clients of stateful-only upstreams: every listen gets a
//! bridge session of its own (its own children), whose standalone stream carries what the
//! upstreams notify; the notifications the client asked for are passed on, tagged with the
//! subscription's id. The session ends when the client closes the stream.

use std::sync::Arc;

use axum::response::Response;
use serde_json::{Map, Value, json};

use crate::http::{McpState, sse};
use crate::jsonrpc::{self, RpcError};
use crate::session::Session;
use crate::session::streams::{Next, Reader, STANDALONE};
use crate::virtual_server::{self, VirtualServer};

const SUBSCRIPTION_ID: &str = "io.modelcontextprotocol/subscriptionId";

/// Which filter flag asks for which notification, and the capability that must offer it.
const LIST_CHANGED: [(&str, &str, &str); 3] = [
    (
        "toolsListChanged",
        "notifications/tools/list_changed",
        "tools",
    ),
    (
        "promptsListChanged",
        "notifications/prompts/list_changed",
        "prompts",
    ),
    (
        "resourcesListChanged",
        "notifications/resources/list_changed",
        "resources",
    ),
];

/// What the subscription honors: the requested flags whose capability has `listChanged`, and
/// the resource URIs that could be subscribed.
fn honored(requested: &Value, capabilities: &Value, subscribed: Vec<Value>) -> Value {
    let mut honored = Map::new();
    for (flag, _, capability) in LIST_CHANGED {
        let offered = capabilities[capability]["listChanged"] == json!(true);
        if requested[flag] == json!(true) && offered {
            honored.insert(flag.into(), true.into());
        }
    }
    if !subscribed.is_empty() {
        honored.insert("resourceSubscriptions".into(), subscribed.into());
    }
    Value::Object(honored)
}

/// Whether `message` is one the subscription asked for.
fn wanted(honored: &Value, message: &Value) -> bool {
    let method = message["method"].as_str().unwrap_or_default();
    if method == "notifications/resources/updated" {
        let uris = honored["resourceSubscriptions"].as_array();
        return uris.is_some_and(|uris| uris.contains(&message["params"]["uri"]));
    }
    LIST_CHANGED
        .iter()
        .any(|(flag, notification, _)| *notification == method && honored[*flag] == json!(true))
}

/// Ends the listen's own session when its stream is dropped.
struct Listening {
    session: Arc<Session>,
    reader: Reader,
}

impl Drop for Listening {
    fn drop(&mut self) {
        let session = self.session.clone();
        tokio::spawn(async move { session.end().await });
    }
}

pub(super) async fn listen(
    state: &McpState,
    server: &Arc<VirtualServer>,
    caller: Option<&crate::auth::Caller>,
    id: &Value,
    message: &Value,
    init_params: Value,
    version: &str,
) -> Result<Response, RpcError> {
    let session = Session::start(
        server.clone(),
        None,
        version.into(),
        init_params,
        state.idle_timeout,
        &state.connect,
    )
    .await
    .map_err(|e| RpcError::internal(e.to_string()))?;
    let requested = message
        .pointer("/params/notifications")
        .cloned()
        .unwrap_or_default();
    let capabilities = virtual_server::initialize_result(&session)["capabilities"].clone();
    let mut subscribed = Vec::new();
    let can_subscribe = capabilities["resources"]["subscribe"] == json!(true);
    for uri in requested["resourceSubscriptions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|_| can_subscribe)
    {
        let stream = session.streams.open();
        let params = json!({ "uri": uri });
        let subscribe = "resources/subscribe";
        if virtual_server::handle(&session, caller, stream, id, subscribe, Some(params))
            .await
            .is_ok()
        {
            subscribed.push(uri.clone());
        }
        session.streams.finish(stream, Arc::from(""));
    }
    let honored = honored(&requested, &capabilities, subscribed);
    let meta = json!({ SUBSCRIPTION_ID: id });
    let ack = jsonrpc::notification(
        "notifications/subscriptions/acknowledged",
        Some(json!({ "notifications": honored, "_meta": meta })),
    );
    let reader = session
        .streams
        .fresh_reader(STANDALONE)
        .map_err(|_| RpcError::internal("the listen session has no stream"))?;
    let first = futures_util::stream::once(async move { sse::data_event(ack) });
    let state = (Listening { session, reader }, honored, meta);
    let rest = futures_util::stream::unfold(state, |(mut listening, honored, meta)| async move {
        loop {
            let Next::Message { data, .. } = listening.reader.next().await else {
                return None;
            };
            let Ok(mut message) = serde_json::from_str::<Value>(&data) else {
                continue;
            };
            if !wanted(&honored, &message) {
                continue;
            }
            if let Some(params) = message
                .as_object_mut()
                .map(|m| m.entry("params").or_insert_with(|| json!({})))
            {
                params["_meta"] = meta.clone();
            }
            return Some((sse::data_event(message), (listening, honored, meta)));
        }
    });
    Ok(sse::stream_response(futures_util::StreamExt::chain(
        first, rest,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_offered_and_requested_notifications_are_honored_and_passed() {
        let caps = json!({"tools": {"listChanged": true}, "prompts": {}, "resources": {"listChanged": true}});
        let requested = json!({"toolsListChanged": true, "promptsListChanged": true, "resourcesListChanged": false});
        let honored = honored(&requested, &caps, vec![json!("file:///a")]);
        assert_eq!(
            honored,
            json!({"toolsListChanged": true, "resourceSubscriptions": ["file:///a"]})
        );
        let note = |method: &str, params: Value| json!({"jsonrpc": "2.0", "method": method, "params": params});
        assert!(wanted(
            &honored,
            &note("notifications/tools/list_changed", json!({}))
        ));
        assert!(!wanted(
            &honored,
            &note("notifications/prompts/list_changed", json!({}))
        ));
        assert!(wanted(
            &honored,
            &note(
                "notifications/resources/updated",
                json!({"uri": "file:///a"})
            )
        ));
        assert!(!wanted(
            &honored,
            &note(
                "notifications/resources/updated",
                json!({"uri": "file:///b"})
            )
        ));
        assert!(!wanted(&honored, &note("notifications/message", json!({}))));
    }
}
