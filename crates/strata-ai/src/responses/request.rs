//! OpenAI Responses request → OpenAI chat completions request.

use serde_json::{Map, Value, json};

use crate::{AiError, content};

fn bad(message: impl Into<String>) -> AiError {
    AiError::BadRequest(message.into())
}

/// A `content` list of Responses parts as chat content parts.
fn parts(content: &Value) -> Value {
    match content {
        Value::Array(parts) => Value::Array(
            parts
                .iter()
                .filter_map(|p| match p.get("type").and_then(Value::as_str) {
                    Some("input_text" | "output_text" | "text") => {
                        Some(json!({ "type": "text", "text": p.get("text").cloned().unwrap_or_default() }))
                    }
                    Some("input_image") => {
                        let url = p.get("image_url").cloned().unwrap_or_default();
                        Some(json!({ "type": "image_url", "image_url": { "url": url } }))
                    }
                    _ => None,
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Appends a tool call to the last assistant message, or starts one.
fn push_call(messages: &mut Vec<Value>, call: Value) {
    if let Some(last) = messages.last_mut()
        && last["role"] == "assistant"
        && let Some(calls) = last.get_mut("tool_calls").and_then(Value::as_array_mut)
    {
        calls.push(call);
        return;
    }
    messages.push(json!({ "role": "assistant", "content": null, "tool_calls": [call] }));
}

fn input_items(input: &Value, messages: &mut Vec<Value>) -> Result<(), AiError> {
    let items = match input {
        Value::String(text) => {
            messages.push(json!({ "role": "user", "content": text }));
            return Ok(());
        }
        Value::Array(items) => items,
        _ => return Err(bad("input: must be a string or a list of items")),
    };
    for (i, item) in items.iter().enumerate() {
        match item.get("type").and_then(Value::as_str) {
            None | Some("message") => {
                let role = item
                    .get("role")
                    .and_then(Value::as_str)
                    .ok_or_else(|| bad(format!("input[{i}].role: required")))?;
                let content = item.get("content").unwrap_or(&Value::Null);
                let role = if role == "developer" { "system" } else { role };
                if role == "assistant" {
                    messages.push(
                        json!({ "role": "assistant", "content": content::text(content, "") }),
                    );
                } else {
                    messages.push(json!({ "role": role, "content": parts(content) }));
                }
            }
            Some("function_call") => push_call(
                messages,
                json!({
                    "id": item.get("call_id").cloned().unwrap_or_default(),
                    "type": "function",
                    "function": {
                        "name": item.get("name").cloned().unwrap_or_default(),
                        "arguments": item.get("arguments").cloned().unwrap_or(json!("{}")),
                    },
                }),
            ),
            Some("function_call_output") => {
                let output = match item.get("output") {
                    Some(Value::String(s)) => s.clone(),
                    Some(other) => content::text(other, "\n"),
                    None => String::new(),
                };
                messages.push(json!({
                    "role": "tool",
                    "tool_call_id": item.get("call_id").cloned().unwrap_or_default(),
                    "content": output,
                }));
            }
            Some("reasoning") => {}
            Some(other) => {
                return Err(bad(format!(
                    "input[{i}]: item type `{other}` is not supported"
                )));
            }
        }
    }
    Ok(())
}

/// Translates the request; returns the chat body.
pub fn to_chat(request: &Value) -> Result<Value, AiError> {
    if request
        .get("previous_response_id")
        .is_some_and(|v| !v.is_null())
    {
        return Err(bad(
            "previous_response_id is not supported: Strata keeps no responses; send the whole conversation in `input`",
        ));
    }
    let mut messages = Vec::new();
    if let Some(instructions) = request.get("instructions").and_then(Value::as_str) {
        messages.push(json!({ "role": "system", "content": instructions }));
    }
    input_items(
        request.get("input").ok_or_else(|| bad("input: required"))?,
        &mut messages,
    )?;

    let mut body = Map::new();
    body.insert(
        "model".into(),
        request.get("model").cloned().unwrap_or_default(),
    );
    body.insert("messages".into(), Value::Array(messages));
    for (from, to) in [
        ("max_output_tokens", "max_tokens"),
        ("temperature", "temperature"),
        ("top_p", "top_p"),
        ("user", "user"),
        ("parallel_tool_calls", "parallel_tool_calls"),
    ] {
        if let Some(v) = request.get(from).filter(|v| !v.is_null()) {
            body.insert(to.into(), v.clone());
        }
    }
    if let Some(tools) = request.get("tools").and_then(Value::as_array) {
        let mut out = Vec::new();
        for (i, tool) in tools.iter().enumerate() {
            if tool.get("type").and_then(Value::as_str) != Some("function") {
                return Err(bad(format!(
                    "tools[{i}]: only function tools are supported"
                )));
            }
            out.push(json!({ "type": "function", "function": {
                "name": tool.get("name").cloned().unwrap_or_default(),
                "description": tool.get("description").cloned().unwrap_or(json!("")),
                "parameters": tool.get("parameters").cloned().unwrap_or(json!({ "type": "object" })),
            }}));
        }
        body.insert("tools".into(), Value::Array(out));
    }
    match request.get("tool_choice") {
        Some(Value::String(s)) => {
            body.insert("tool_choice".into(), json!(s));
        }
        Some(Value::Object(o)) if o.get("type").and_then(Value::as_str) == Some("function") => {
            body.insert("tool_choice".into(), json!({ "type": "function", "function": { "name": o.get("name").cloned().unwrap_or_default() } }));
        }
        _ => {}
    }
    match request
        .pointer("/text/format")
        .and_then(|f| f.get("type"))
        .and_then(Value::as_str)
    {
        Some("json_object") => {
            body.insert("response_format".into(), json!({ "type": "json_object" }));
        }
        Some("json_schema") => {
            let f = &request["text"]["format"];
            body.insert(
                "response_format".into(),
                json!({ "type": "json_schema", "json_schema": {
                    "name": f.get("name").cloned().unwrap_or(json!("response")),
                    "schema": f.get("schema").cloned().unwrap_or(json!({})),
                    "strict": f.get("strict").cloned().unwrap_or(json!(false)),
                }}),
            );
        }
        _ => {}
    }
    if request
        .get("stream")
        .and_then(Value::as_bool)
        .unwrap_or(false)
    {
        body.insert("stream".into(), json!(true));
        body.insert("stream_options".into(), json!({ "include_usage": true }));
    }
    Ok(Value::Object(body))
}
