//! OpenAI chat completion → Anthropic message, and errors in Anthropic's shape.

use axum::http::StatusCode;
use serde_json::{Value, json};

/// Anthropic's `stop_reason` for an OpenAI `finish_reason`.
#[must_use]
pub fn stop_reason(finish: Option<&str>) -> &'static str {
    match finish {
        Some("length") => "max_tokens",
        Some("tool_calls" | "function_call") => "tool_use",
        Some("content_filter") => "refusal",
        _ => "end_turn",
    }
}

/// Parses tool-call arguments; arguments that are not a JSON object are kept as a string
/// under `_raw` rather than lost.
fn tool_input(arguments: &str) -> Value {
    match serde_json::from_str::<Value>(arguments) {
        Ok(v @ Value::Object(_)) => v,
        _ if arguments.trim().is_empty() => json!({}),
        _ => json!({ "_raw": arguments }),
    }
}

/// The Anthropic message for an OpenAI chat completion.
#[must_use]
pub fn from_openai(completion: &Value) -> Value {
    let choice = completion.pointer("/choices/0").unwrap_or(&Value::Null);
    let message = choice.get("message").unwrap_or(&Value::Null);
    let mut content = Vec::new();
    if let Some(text) = message.get("content").and_then(Value::as_str)
        && !text.is_empty()
    {
        content.push(json!({ "type": "text", "text": text }));
    }
    for call in message
        .get("tool_calls")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        content.push(json!({
            "type": "tool_use",
            "id": call.get("id").cloned().unwrap_or_default(),
            "name": call.pointer("/function/name").cloned().unwrap_or_default(),
            "input": tool_input(call.pointer("/function/arguments").and_then(Value::as_str).unwrap_or("")),
        }));
    }
    let id = completion
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or("strata");
    json!({
        "id": format!("msg_{id}"),
        "type": "message",
        "role": "assistant",
        "model": completion.get("model").cloned().unwrap_or_default(),
        "content": content,
        "stop_reason": stop_reason(choice.get("finish_reason").and_then(Value::as_str)),
        "stop_sequence": null,
        "usage": {
            "input_tokens": completion.pointer("/usage/prompt_tokens").cloned().unwrap_or(json!(0)),
            "output_tokens": completion.pointer("/usage/completion_tokens").cloned().unwrap_or(json!(0)),
        },
    })
}

/// Anthropic's error `type` for an HTTP status.
#[must_use]
pub fn error_type(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 | 422 => "invalid_request_error",
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        529 => "overloaded_error",
        _ => "api_error",
    }
}

/// An Anthropic error body.
#[must_use]
pub fn error_body(status: StatusCode, message: &str) -> Value {
    json!({ "type": "error", "error": { "type": error_type(status), "message": message } })
}

/// The Anthropic error for an OpenAI error body received with `status`.
#[must_use]
pub fn error_from_openai(status: StatusCode, error: &Value) -> Value {
    let message = error
        .pointer("/error/message")
        .and_then(Value::as_str)
        .map_or_else(|| error.to_string(), str::to_string);
    error_body(status, &message)
}
