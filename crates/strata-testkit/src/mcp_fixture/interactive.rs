//! Tools that talk back to the client while they run: log and progress notifications,
//! sampling and elicitation requests, and the SSE reconnection test (SEP-1699).
//! Logging and sampling are deprecated by SEP-2577 in rmcp, but the 2025 revisions
//! still test them.
#![allow(deprecated)]

use std::time::Duration;

use rmcp::RoleServer;
use rmcp::model::{
    CallToolRequestParams, CallToolResult, ContentBlock, CreateMessageRequestParams,
    ElicitRequestParams, ElicitationSchema, LoggingLevel, LoggingMessageNotificationParam,
    ProgressNotificationParam, SamplingMessage,
};
use rmcp::service::RequestContext;
use serde_json::{Value, json};

use super::content::str_arg;
use super::sessions::FixtureSessions;

/// How long `test_reconnection` waits for the client to resume its stream.
const RESUME_WAIT: Duration = Duration::from_secs(10);
/// The `retry` hint sent before `test_reconnection` closes its stream.
const RECONNECT_RETRY: Duration = Duration::from_millis(500);
/// The pause between notifications, so a client sees them arrive one by one.
const STEP: Duration = Duration::from_millis(50);

/// Runs the interactive tool `request.name`; `None` when it is not one of them.
pub async fn call(
    request: &CallToolRequestParams,
    cx: &RequestContext<RoleServer>,
    sessions: Option<&FixtureSessions>,
) -> Option<CallToolResult> {
    let args = request.arguments.as_ref();
    Some(match request.name.as_ref() {
        "test_tool_with_logging" => logging(cx).await,
        "test_tool_with_progress" => progress(cx).await,
        "test_sampling" => sampling(cx, str_arg(args, "prompt").unwrap_or("Hello")).await,
        "test_elicitation" => {
            let message = str_arg(args, "message").unwrap_or("Please provide your information");
            elicit(cx, message, user_schema(), "User response").await
        }
        "test_elicitation_sep1034_defaults" => {
            elicit(
                cx,
                "Please review and update the form fields with defaults",
                defaults_schema(),
                "Elicitation completed",
            )
            .await
        }
        "test_elicitation_sep1330_enums" => {
            elicit(
                cx,
                "Please select options from the enum fields",
                enums_schema(),
                "Elicitation completed",
            )
            .await
        }
        "test_reconnection" => reconnection(cx, sessions).await,
        "test_slow" => slow(cx, args).await,
        _ => return None,
    })
}

/// Markers of `test_slow` calls that were cancelled before they finished.
static CANCELLED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// Whether a `test_slow` call with this `marker` saw its cancellation.
#[must_use]
pub fn was_cancelled(marker: &str) -> bool {
    CANCELLED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .iter()
        .any(|m| m == marker)
}

/// Sleeps `ms` milliseconds (default 5000) unless the call is cancelled first, in which case
/// its `marker` is recorded.
async fn slow(
    cx: &RequestContext<RoleServer>,
    args: Option<&rmcp::model::JsonObject>,
) -> CallToolResult {
    let ms = args
        .and_then(|a| a.get("ms"))
        .and_then(Value::as_u64)
        .unwrap_or(5000);
    let marker = str_arg(args, "marker").unwrap_or_default().to_owned();
    tokio::select! {
        () = tokio::time::sleep(Duration::from_millis(ms)) => {
            CallToolResult::success(vec![ContentBlock::text(format!("slept {ms} ms"))])
        }
        () = cx.ct.cancelled() => {
            CANCELLED.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(marker);
            CallToolResult::success(vec![ContentBlock::text("cancelled")])
        }
    }
}

async fn logging(cx: &RequestContext<RoleServer>) -> CallToolResult {
    let steps = [
        "Tool execution started",
        "Tool processing data",
        "Tool execution completed",
    ];
    for (i, message) in steps.into_iter().enumerate() {
        if i > 0 {
            tokio::time::sleep(STEP).await;
        }
        let param = LoggingMessageNotificationParam::new(LoggingLevel::Info, json!(message))
            .with_logger("strata-mcp-fixture");
        // A client that went away is no reason to fail the tool.
        let _ = cx.peer.notify_logging_message(param).await;
    }
    CallToolResult::success(vec![ContentBlock::text(
        "Tool with logging executed successfully",
    )])
}

async fn progress(cx: &RequestContext<RoleServer>) -> CallToolResult {
    let token = cx.meta.get_progress_token();
    for (i, step) in [0.0, 50.0, 100.0].into_iter().enumerate() {
        if i > 0 {
            tokio::time::sleep(STEP).await;
        }
        if let Some(token) = &token {
            let param = ProgressNotificationParam::new(token.clone(), step).with_total(100.0);
            let _ = cx.peer.notify_progress(param).await;
        }
    }
    let text = token.map_or_else(
        || "no progress token".to_owned(),
        |t| serde_json::to_string(&t).unwrap_or_default(),
    );
    CallToolResult::success(vec![ContentBlock::text(text)])
}

async fn sampling(cx: &RequestContext<RoleServer>, prompt: &str) -> CallToolResult {
    let params = CreateMessageRequestParams::new(vec![SamplingMessage::user_text(prompt)], 100);
    match cx.peer.create_message(params).await {
        Ok(result) => {
            let value = serde_json::to_value(&result).unwrap_or_default();
            let text = first_text(&value["content"]).unwrap_or("No response");
            CallToolResult::success(vec![ContentBlock::text(format!("LLM response: {text}"))])
        }
        Err(e) => CallToolResult::error(vec![ContentBlock::text(format!(
            "Sampling not supported or error: {e}"
        ))]),
    }
}

/// The text of a sampling content block, or of the first of several.
fn first_text(content: &Value) -> Option<&str> {
    match content {
        Value::Array(items) => items.iter().find_map(|c| c["text"].as_str()),
        other => other["text"].as_str(),
    }
}

async fn elicit(
    cx: &RequestContext<RoleServer>,
    message: &str,
    schema: Value,
    label: &str,
) -> CallToolResult {
    let schema: ElicitationSchema = match serde_json::from_value(schema) {
        Ok(schema) => schema,
        Err(e) => {
            return CallToolResult::error(vec![ContentBlock::text(format!(
                "fixture elicitation schema is invalid: {e}"
            ))]);
        }
    };
    let params = ElicitRequestParams::FormElicitationParams {
        meta: None,
        message: message.to_owned(),
        requested_schema: schema,
    };
    match cx.peer.create_elicitation(params).await {
        Ok(result) => {
            let action = serde_json::to_value(&result.action).unwrap_or_default();
            let action = action.as_str().unwrap_or("unknown").to_owned();
            let content = result.content.unwrap_or_else(|| json!({}));
            CallToolResult::success(vec![ContentBlock::text(format!(
                "{label}: action={action}, content={content}"
            ))])
        }
        Err(e) => CallToolResult::error(vec![ContentBlock::text(format!(
            "Elicitation not supported or error: {e}"
        ))]),
    }
}

fn user_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "username": { "type": "string", "description": "User's response" },
            "email": { "type": "string", "description": "User's email address" }
        },
        "required": ["username", "email"]
    })
}

fn defaults_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "name": { "type": "string", "description": "User name", "default": "John Doe" },
            "age": { "type": "integer", "description": "User age", "default": 30 },
            "score": { "type": "number", "description": "User score", "default": 95.5 },
            "status": {
                "type": "string",
                "description": "User status",
                "enum": ["active", "inactive", "pending"],
                "default": "active"
            },
            "verified": { "type": "boolean", "description": "Verification status", "default": true }
        },
        "required": []
    })
}

fn enums_schema() -> Value {
    let titled = |prefix: &str| {
        json!([
            { "const": "value1", "title": format!("First {prefix}") },
            { "const": "value2", "title": format!("Second {prefix}") },
            { "const": "value3", "title": format!("Third {prefix}") }
        ])
    };
    json!({
        "type": "object",
        "properties": {
            "untitledSingle": {
                "type": "string",
                "description": "Select one option",
                "enum": ["option1", "option2", "option3"]
            },
            "titledSingle": {
                "type": "string",
                "description": "Select one option with titles",
                "oneOf": titled("Option")
            },
            "legacyEnum": {
                "type": "string",
                "description": "Select one option (legacy)",
                "enum": ["opt1", "opt2", "opt3"],
                "enumNames": ["Option One", "Option Two", "Option Three"]
            },
            "untitledMulti": {
                "type": "array",
                "description": "Select multiple options",
                "minItems": 1,
                "maxItems": 3,
                "items": { "type": "string", "enum": ["option1", "option2", "option3"] }
            },
            "titledMulti": {
                "type": "array",
                "description": "Select multiple options with titles",
                "minItems": 1,
                "maxItems": 3,
                "items": { "anyOf": titled("Choice") }
            }
        },
        "required": []
    })
}

/// Closes the POST stream carrying this call, waits for the client to resume it with
/// `Last-Event-ID`, then answers (on the resumed stream).
async fn reconnection(
    cx: &RequestContext<RoleServer>,
    sessions: Option<&FixtureSessions>,
) -> CallToolResult {
    let session = cx
        .extensions
        .get::<axum::http::request::Parts>()
        .and_then(|parts| parts.headers.get("mcp-session-id"))
        .and_then(|v| v.to_str().ok())
        .map(std::sync::Arc::<str>::from);
    let closed = match (sessions, session) {
        (Some(sessions), Some(session)) => sessions
            .close_request_stream(&session, &cx.id, RECONNECT_RETRY)
            .await
            .ok(),
        _ => None,
    };
    match closed {
        Some(resumed) => {
            let _ = tokio::time::timeout(RESUME_WAIT, resumed.notified()).await;
        }
        None => tokio::time::sleep(Duration::from_millis(100)).await,
    }
    CallToolResult::success(vec![ContentBlock::text(
        "Reconnection test completed successfully. If you received this, the client properly reconnected after stream closure.",
    )])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elicitation_schemas_parse() {
        for schema in [user_schema(), defaults_schema(), enums_schema()] {
            let parsed: Result<ElicitationSchema, _> = serde_json::from_value(schema.clone());
            let parsed = parsed.expect("schema parses");
            let back = serde_json::to_value(parsed).expect("serializes");
            assert_eq!(back["properties"], schema["properties"]);
        }
    }
}
