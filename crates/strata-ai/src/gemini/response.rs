//! Gemini answers and errors → OpenAI chat completions.

use axum::http::StatusCode;
use serde_json::{Value, json};

/// OpenAI's `finish_reason` for a Gemini `finishReason`.
#[must_use]
pub fn finish_reason(reason: Option<&str>, called: bool) -> Option<&'static str> {
    Some(match reason? {
        "MAX_TOKENS" => "length",
        "SAFETY" | "RECITATION" | "BLOCKLIST" | "PROHIBITED_CONTENT" | "SPII" | "IMAGE_SAFETY" => {
            "content_filter"
        }
        _ if called => "tool_calls",
        _ => "stop",
    })
}

/// OpenAI usage for Gemini `usageMetadata`.
#[must_use]
pub fn usage(meta: &Value) -> Value {
    let n = |k: &str| meta.get(k).and_then(Value::as_u64).unwrap_or(0);
    let prompt = n("promptTokenCount");
    let completion = n("candidatesTokenCount") + n("thoughtsTokenCount");
    json!({ "prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
        "prompt_tokens_details": { "cached_tokens": n("cachedContentTokenCount") } })
}

/// The text and function calls of a candidate's parts (thoughts left out).
#[must_use]
pub fn split_parts(parts: &[Value], first_call: usize) -> (String, Vec<Value>) {
    let mut text = String::new();
    let mut calls = Vec::new();
    for part in parts {
        if part.get("thought").and_then(Value::as_bool) == Some(true) {
            continue;
        }
        if let Some(t) = part.get("text").and_then(Value::as_str) {
            text.push_str(t);
        }
        if let Some(call) = part.get("functionCall") {
            let index = first_call + calls.len();
            let id = call
                .get("id")
                .and_then(Value::as_str)
                .map_or_else(|| format!("call_{index}"), str::to_string);
            calls.push(json!({ "index": index, "id": id, "type": "function", "function": {
                "name": call.get("name").cloned().unwrap_or_default(),
                "arguments": call.get("args").map_or_else(|| "{}".to_string(), Value::to_string),
            }}));
        }
    }
    (text, calls)
}

/// A Gemini answer as an OpenAI chat completion.
#[must_use]
pub fn to_openai(answer: &Value) -> Value {
    let candidate = answer.pointer("/candidates/0").unwrap_or(&Value::Null);
    let parts = candidate
        .pointer("/content/parts")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let (text, calls) = split_parts(&parts, 0);
    let calls: Vec<Value> = calls
        .into_iter()
        .map(|mut c| {
            if let Some(o) = c.as_object_mut() {
                o.remove("index");
            }
            c
        })
        .collect();
    let mut message = json!({ "role": "assistant", "content": if text.is_empty() && !calls.is_empty() { Value::Null } else { json!(text) } });
    let called = !calls.is_empty();
    if called {
        message["tool_calls"] = Value::Array(calls);
    }
    let finish = finish_reason(
        candidate.get("finishReason").and_then(Value::as_str),
        called,
    )
    .unwrap_or("stop");
    json!({
        "id": format!("chatcmpl-{}", answer.get("responseId").and_then(Value::as_str).unwrap_or("gemini")),
        "object": "chat.completion",
        "created": strata_core::now_ms() / 1000,
        "model": answer.get("modelVersion").cloned().unwrap_or_default(),
        "choices": [{ "index": 0, "message": message, "logprobs": null, "finish_reason": finish }],
        "usage": usage(answer.get("usageMetadata").unwrap_or(&Value::Null)),
    })
}

/// A Gemini error body received with `status`, in OpenAI's shape.
#[must_use]
pub fn error_to_openai(status: StatusCode, body: &[u8]) -> Value {
    let parsed: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    // Gemini streams and some proxies wrap the error in a list.
    let error = parsed
        .get(0)
        .unwrap_or(&parsed)
        .get("error")
        .cloned()
        .unwrap_or(Value::Null);
    let message = error.get("message").and_then(Value::as_str).map_or_else(
        || String::from_utf8_lossy(body).into_owned(),
        str::to_string,
    );
    let kind = match status.as_u16() {
        400 | 404 => "invalid_request_error",
        401 | 403 => "authentication_error",
        429 => "rate_limit_error",
        _ => "api_error",
    };
    json!({ "error": { "message": message, "type": kind, "param": null, "code": error.get("status").cloned().unwrap_or(Value::Null) } })
}
