//! Toward Anthropic providers: OpenAI request → Anthropic request, Anthropic answer and
//! errors → OpenAI.

use axum::http::StatusCode;
use serde_json::{Map, Value, json};

use crate::{AiError, content};

/// Anthropic requires `max_tokens`; this is used when an OpenAI request sets none.
pub const DEFAULT_MAX_TOKENS: u64 = 4096;

fn image_block(url: &str) -> Value {
    match url
        .strip_prefix("data:")
        .and_then(|rest| rest.split_once(";base64,"))
    {
        Some((media_type, data)) => {
            json!({ "type": "image", "source": { "type": "base64", "media_type": media_type, "data": data } })
        }
        None => json!({ "type": "image", "source": { "type": "url", "url": url } }),
    }
}

fn content_blocks(content: &Value) -> Vec<Value> {
    match content {
        Value::String(s) if s.is_empty() => Vec::new(),
        Value::String(s) => vec![json!({ "type": "text", "text": s })],
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| match p.get("type").and_then(Value::as_str) {
                Some("text") => Some(
                    json!({ "type": "text", "text": p.get("text").cloned().unwrap_or_default() }),
                ),
                Some("image_url") => p
                    .pointer("/image_url/url")
                    .and_then(Value::as_str)
                    .map(image_block),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Translates an OpenAI chat completions request into an Anthropic Messages request.
pub fn request_from_openai(openai: &Value) -> Result<Value, AiError> {
    let mut system = Vec::new();
    let mut messages: Vec<Value> = Vec::new();
    for m in openai
        .get("messages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let content = m.get("content").unwrap_or(&Value::Null);
        match m.get("role").and_then(Value::as_str) {
            Some("system" | "developer") => system.push(content::text(content, "\n")),
            Some("assistant") => {
                let mut blocks = content_blocks(content);
                for call in m
                    .get("tool_calls")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let arguments = call
                        .pointer("/function/arguments")
                        .and_then(Value::as_str)
                        .unwrap_or("{}");
                    blocks.push(json!({
                        "type": "tool_use",
                        "id": call.get("id").cloned().unwrap_or_default(),
                        "name": call.pointer("/function/name").cloned().unwrap_or_default(),
                        "input": serde_json::from_str::<Value>(arguments).unwrap_or_else(|_| json!({})),
                    }));
                }
                content::push_merged(&mut messages, "assistant", "content", blocks);
            }
            Some("tool") => content::push_merged(
                &mut messages,
                "user",
                "content",
                vec![json!({
                    "type": "tool_result",
                    "tool_use_id": m.get("tool_call_id").cloned().unwrap_or_default(),
                    "content": content::text(content, "\n"),
                })],
            ),
            Some("user") => {
                content::push_merged(&mut messages, "user", "content", content_blocks(content))
            }
            other => {
                return Err(AiError::BadRequest(format!(
                    "message role {other:?} is not supported"
                )));
            }
        }
    }
    let mut body = Map::new();
    body.insert(
        "model".into(),
        openai.get("model").cloned().unwrap_or_default(),
    );
    let max_tokens = openai
        .get("max_completion_tokens")
        .or_else(|| openai.get("max_tokens"))
        .and_then(Value::as_u64)
        .unwrap_or(DEFAULT_MAX_TOKENS);
    body.insert("max_tokens".into(), json!(max_tokens));
    if !system.is_empty() {
        body.insert("system".into(), json!(system.join("\n")));
    }
    body.insert("messages".into(), Value::Array(messages));
    for key in ["temperature", "top_p", "stream"] {
        if let Some(v) = openai.get(key) {
            body.insert(key.into(), v.clone());
        }
    }
    match openai.get("stop") {
        Some(Value::String(s)) => {
            body.insert("stop_sequences".into(), json!([s]));
        }
        Some(v @ Value::Array(_)) => {
            body.insert("stop_sequences".into(), v.clone());
        }
        _ => {}
    }
    if let Some(user) = openai.get("user") {
        body.insert("metadata".into(), json!({ "user_id": user }));
    }
    if let Some(tools) = openai.get("tools").and_then(Value::as_array) {
        let tools: Vec<Value> = tools
            .iter()
            .filter_map(|t| t.get("function"))
            .map(|f| json!({
                "name": f.get("name").cloned().unwrap_or_default(),
                "description": f.get("description").cloned().unwrap_or(json!("")),
                "input_schema": f.get("parameters").cloned().unwrap_or(json!({ "type": "object" })),
            }))
            .collect();
        body.insert("tools".into(), Value::Array(tools));
    }
    let choice = match openai.get("tool_choice") {
        Some(Value::String(s)) if s == "auto" => Some(json!({ "type": "auto" })),
        Some(Value::String(s)) if s == "required" => Some(json!({ "type": "any" })),
        Some(Value::String(s)) if s == "none" => Some(json!({ "type": "none" })),
        Some(Value::Object(o)) => o
            .get("function")
            .and_then(|f| f.get("name"))
            .map(|name| json!({ "type": "tool", "name": name })),
        _ => None,
    };
    if let Some(choice) = choice {
        body.insert("tool_choice".into(), choice);
    }
    Ok(Value::Object(body))
}

/// OpenAI's `finish_reason` for an Anthropic `stop_reason`.
#[must_use]
pub fn finish_reason(stop: Option<&str>) -> &'static str {
    match stop {
        Some("max_tokens") => "length",
        Some("tool_use") => "tool_calls",
        Some("refusal") => "content_filter",
        _ => "stop",
    }
}

/// OpenAI usage for Anthropic usage (cache reads and writes count as prompt tokens).
#[must_use]
pub fn usage(usage: &Value) -> Value {
    let n = |k: &str| usage.get(k).and_then(Value::as_u64).unwrap_or(0);
    let cached = n("cache_read_input_tokens");
    let prompt = n("input_tokens") + cached + n("cache_creation_input_tokens");
    let completion = n("output_tokens");
    json!({ "prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
        "prompt_tokens_details": { "cached_tokens": cached } })
}

/// An Anthropic message as an OpenAI chat completion.
#[must_use]
pub fn response_to_openai(message: &Value) -> Value {
    let mut text = String::new();
    let mut tool_calls = Vec::new();
    for block in message
        .get("content")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        match block.get("type").and_then(Value::as_str) {
            Some("text") => text.push_str(block.get("text").and_then(Value::as_str).unwrap_or_default()),
            Some("tool_use") => tool_calls.push(json!({
                "id": block.get("id").cloned().unwrap_or_default(),
                "type": "function",
                "function": {
                    "name": block.get("name").cloned().unwrap_or_default(),
                    "arguments": block.get("input").map_or_else(|| "{}".to_string(), Value::to_string),
                },
            })),
            _ => {}
        }
    }
    let mut msg = json!({ "role": "assistant", "content": if text.is_empty() && !tool_calls.is_empty() { Value::Null } else { json!(text) } });
    if !tool_calls.is_empty() {
        msg["tool_calls"] = Value::Array(tool_calls);
    }
    let id = message
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or("strata");
    json!({
        "id": format!("chatcmpl-{id}"),
        "object": "chat.completion",
        "created": strata_core::now_ms() / 1000,
        "model": message.get("model").cloned().unwrap_or_default(),
        "choices": [{ "index": 0, "message": msg, "logprobs": null,
            "finish_reason": finish_reason(message.get("stop_reason").and_then(Value::as_str)) }],
        "usage": usage(message.get("usage").unwrap_or(&Value::Null)),
    })
}

/// An Anthropic error body (or any body) received with `status`, in OpenAI's shape.
#[must_use]
pub fn error_to_openai(status: StatusCode, body: &[u8]) -> Value {
    let parsed: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let message = parsed
        .pointer("/error/message")
        .and_then(Value::as_str)
        .map_or_else(
            || String::from_utf8_lossy(body).into_owned(),
            str::to_string,
        );
    let kind = match status.as_u16() {
        400 | 404 | 413 | 422 => "invalid_request_error",
        401 => "authentication_error",
        403 => "permission_error",
        429 => "rate_limit_error",
        _ => "api_error",
    };
    json!({ "error": { "message": message, "type": kind, "param": null, "code": parsed.pointer("/error/type").cloned().unwrap_or(Value::Null) } })
}
