//! Diagnostic tools the 2026-07-28 scenarios probe (capability enforcement, logging
//! only on request, custom `Mcp-Param-*` headers, list-changed notifications on
//! `subscriptions/listen` streams) and the registry of open subscription streams.
#![allow(deprecated)] // logging is SEP-2577-deprecated in rmcp

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use rmcp::RoleServer;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ClientCapabilities, ContentBlock,
    ErrorData, LoggingMessageNotificationParam, Tool,
};
use rmcp::service::{RequestContext, SubscriptionSink};
use serde_json::{Value, json};

use super::content::{empty_schema, object, str_arg};

/// Shared by every handler instance of one server: stateless requests each get their
/// own handler, so state that outlives a request lives here.
#[derive(Debug, Default)]
pub struct Registry {
    resource_subscriptions: Mutex<HashSet<String>>,
    listeners: Mutex<BTreeMap<u64, SubscriptionSink>>,
    next_listener: AtomicU64,
}

impl Registry {
    /// Records a legacy `resources/subscribe` (`on`) or `resources/unsubscribe`.
    pub fn subscribe_resource(&self, uri: String, on: bool) {
        let mut set = self
            .resource_subscriptions
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if on {
            set.insert(uri);
        } else {
            set.remove(&uri);
        }
    }

    /// The URIs subscribed to with `resources/subscribe`, sorted.
    pub fn resource_subscriptions(&self) -> Vec<String> {
        let set = self
            .resource_subscriptions
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut uris: Vec<String> = set.iter().cloned().collect();
        uris.sort();
        uris
    }

    /// Registers an open `subscriptions/listen` stream; returns its key.
    pub fn add_listener(&self, sink: SubscriptionSink) -> u64 {
        let key = self.next_listener.fetch_add(1, Ordering::Relaxed);
        self.listeners
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key, sink);
        key
    }

    /// Forgets a closed stream.
    pub fn remove_listener(&self, key: u64) {
        self.listeners
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&key);
    }

    fn listeners(&self) -> Vec<SubscriptionSink> {
        self.listeners
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect()
    }
}

/// The diagnostic tools.
#[must_use]
pub fn tools() -> Vec<Tool> {
    let plain = [
        (
            "test_missing_capability",
            "Requires the client to declare the sampling capability",
        ),
        (
            "test_logging_tool",
            "Sends a log notification only when the request asks for a log level",
        ),
        (
            "test_trigger_tool_change",
            "Sends tools/list_changed on open subscription streams",
        ),
        (
            "test_trigger_prompt_change",
            "Sends prompts/list_changed on open subscription streams",
        ),
        (
            "test_session_tool_change",
            "Sends tools/list_changed to the calling session (stateful revisions)",
        ),
    ];
    let mut tools: Vec<Tool> = plain
        .into_iter()
        .map(|(name, description)| Tool::new(name, description, empty_schema()))
        .collect();
    tools.push(Tool::new(
        "test_custom_header",
        "Echoes `value`, which clients also send as the Mcp-Param-Value header (SEP-2243)",
        object(json!({
            "type": "object",
            "properties": { "value": { "type": "string", "x-mcp-header": "Value" } },
            "required": ["value"]
        })),
    ));
    tools
}

/// Runs a diagnostic tool; `None` for other names.
pub async fn call(
    request: &CallToolRequestParams,
    cx: &RequestContext<RoleServer>,
    registry: &Registry,
) -> Option<Result<CallToolResponse, ErrorData>> {
    let text = |t: &str| Ok(CallToolResult::success(vec![ContentBlock::text(t)]).into());
    Some(match request.name.as_ref() {
        "test_missing_capability" => {
            let caps = cx.client_capabilities().unwrap_or_default();
            if caps.sampling.is_none() {
                Err(ErrorData::missing_required_client_capability(
                    ClientCapabilities::builder().enable_sampling().build(),
                ))
            } else {
                text("The client declared the sampling capability")
            }
        }
        "test_logging_tool" => {
            if let Some(level) = cx.meta.log_level() {
                let param = LoggingMessageNotificationParam::new(
                    level,
                    Value::from("a log level was requested"),
                )
                .with_logger("strata-mcp-fixture");
                let _ = cx.peer.notify_logging_message(param).await;
            }
            text("Logging tool completed")
        }
        "test_trigger_tool_change" => {
            for sink in registry.listeners() {
                let _ = sink.notify_tool_list_changed().await;
            }
            text("Tool list change triggered")
        }
        "test_session_tool_change" => {
            let _ = cx.peer.notify_tool_list_changed().await;
            text("Tool list change sent to this session")
        }
        "test_trigger_prompt_change" => {
            for sink in registry.listeners() {
                let _ = sink.notify_prompt_list_changed().await;
            }
            text("Prompt list change triggered")
        }
        "test_custom_header" => match str_arg(request.arguments.as_ref(), "value") {
            Some(value) => text(value),
            None => Err(ErrorData::invalid_params("value must be a string", None)),
        },
        _ => return None,
    })
}
