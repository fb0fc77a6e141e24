//! OpenAI chat completion → OpenAI Responses object.

use serde_json::{Value, json};

/// Responses `usage` for chat `usage`.
#[must_use]
pub fn usage(usage: &Value) -> Value {
    let n = |k: &str| usage.get(k).and_then(Value::as_u64).unwrap_or(0);
    let cached = usage
        .pointer("/prompt_tokens_details/cached_tokens")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    json!({
        "input_tokens": n("prompt_tokens"),
        "input_tokens_details": { "cached_tokens": cached },
        "output_tokens": n("completion_tokens"),
        "output_tokens_details": { "reasoning_tokens": 0 },
        "total_tokens": n("prompt_tokens") + n("completion_tokens"),
    })
}

/// A message output item.
#[must_use]
pub fn message_item(id: &str, text: &str, status: &str) -> Value {
    json!({ "type": "message", "id": id, "status": status, "role": "assistant",
        "content": [{ "type": "output_text", "text": text, "annotations": [] }] })
}

/// A function call output item.
#[must_use]
pub fn call_item(id: &str, call_id: &str, name: &str, arguments: &str, status: &str) -> Value {
    json!({ "type": "function_call", "id": id, "call_id": call_id, "name": name, "arguments": arguments, "status": status })
}

/// The response envelope around `output`.
#[must_use]
pub fn envelope(
    id: &str,
    model: &str,
    status: &str,
    output: Vec<Value>,
    usage: Value,
    incomplete: bool,
) -> Value {
    let mut response = json!({
        "id": id,
        "object": "response",
        "created_at": strata_core::now_ms() / 1000,
        "status": status,
        "model": model,
        "error": null,
        "incomplete_details": if incomplete { json!({ "reason": "max_output_tokens" }) } else { Value::Null },
        "instructions": null,
        "metadata": {},
        "parallel_tool_calls": true,
        "temperature": null,
        "top_p": null,
        "tool_choice": "auto",
        "tools": [],
        "text": { "format": { "type": "text" } },
    });
    response["output"] = Value::Array(output);
    response["usage"] = usage;
    response
}

/// The Responses object for a chat completion.
#[must_use]
pub fn from_chat(completion: &Value) -> Value {
    let id = completion
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or("strata");
    let model = completion
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let choice = completion.pointer("/choices/0").unwrap_or(&Value::Null);
    let message = choice.get("message").unwrap_or(&Value::Null);
    let mut output = Vec::new();
    if let Some(text) = message.get("content").and_then(Value::as_str)
        && !text.is_empty()
    {
        output.push(message_item(&format!("msg_{id}"), text, "completed"));
    }
    for (i, call) in message
        .get("tool_calls")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        output.push(call_item(
            &format!("fc_{id}_{i}"),
            call.get("id").and_then(Value::as_str).unwrap_or_default(),
            call.pointer("/function/name")
                .and_then(Value::as_str)
                .unwrap_or_default(),
            call.pointer("/function/arguments")
                .and_then(Value::as_str)
                .unwrap_or("{}"),
            "completed",
        ));
    }
    let incomplete = choice.get("finish_reason").and_then(Value::as_str) == Some("length");
    envelope(
        &format!("resp_{id}"),
        model,
        if incomplete {
            "incomplete"
        } else {
            "completed"
        },
        output,
        usage(completion.get("usage").unwrap_or(&Value::Null)),
        incomplete,
    )
}
