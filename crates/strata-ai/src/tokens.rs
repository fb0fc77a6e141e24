//! Token estimates where no provider has counted: one token per four characters, rounded up.
//! (Exact counts come from the provider's usage; this is for `count_tokens` and the mock.)

use serde_json::Value;

/// Estimated tokens of a text.
#[must_use]
pub fn estimate(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(4)
}

/// Estimated input tokens of an OpenAI chat request: message texts, tool calls and tools.
#[must_use]
pub fn estimate_request(request: &Value) -> u64 {
    let mut text = String::new();
    for message in request
        .get("messages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        match message.get("content") {
            Some(Value::String(s)) => text.push_str(s),
            Some(Value::Array(parts)) => {
                for part in parts {
                    if let Some(t) = part.get("text").and_then(Value::as_str) {
                        text.push_str(t);
                    }
                }
            }
            _ => {}
        }
        if let Some(calls) = message.get("tool_calls") {
            text.push_str(&calls.to_string());
        }
    }
    if let Some(tools) = request.get("tools") {
        text.push_str(&tools.to_string());
    }
    estimate(&text)
}
