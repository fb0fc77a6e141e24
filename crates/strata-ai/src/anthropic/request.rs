//! Anthropic Messages request → OpenAI chat completions request.

use serde_json::{Map, Value, json};

use crate::{AiError, content};

fn bad(message: impl Into<String>) -> AiError {
    AiError::BadRequest(message.into())
}

fn image_url(source: &Value) -> Result<Value, AiError> {
    let url = match source.get("type").and_then(Value::as_str) {
        Some("base64") => format!(
            "data:{};base64,{}",
            source
                .get("media_type")
                .and_then(Value::as_str)
                .unwrap_or("image/png"),
            source
                .get("data")
                .and_then(Value::as_str)
                .unwrap_or_default()
        ),
        Some("url") => source
            .get("url")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        other => return Err(bad(format!("image source type {other:?} is not supported"))),
    };
    Ok(json!({ "type": "image_url", "image_url": { "url": url } }))
}

/// One Anthropic message as one or more OpenAI messages (tool results become `tool` messages).
fn message(m: &Value, i: usize, out: &mut Vec<Value>) -> Result<(), AiError> {
    let role = m
        .get("role")
        .and_then(Value::as_str)
        .ok_or_else(|| bad(format!("messages.{i}.role: Field required")))?;
    let content = m
        .get("content")
        .ok_or_else(|| bad(format!("messages.{i}.content: Field required")))?;
    let blocks = match content {
        Value::String(text) => {
            out.push(json!({ "role": role, "content": text }));
            return Ok(());
        }
        Value::Array(blocks) => blocks,
        _ => {
            return Err(bad(format!(
                "messages.{i}.content: must be a string or a list of blocks"
            )));
        }
    };
    let mut parts: Vec<Value> = Vec::new();
    let mut tool_calls: Vec<Value> = Vec::new();
    for block in blocks {
        match block.get("type").and_then(Value::as_str) {
            Some("text") => parts.push(json!({ "type": "text", "text": block.get("text").cloned().unwrap_or_default() })),
            Some("image") => parts.push(image_url(block.get("source").unwrap_or(&Value::Null))?),
            Some("tool_use") => tool_calls.push(json!({
                "id": block.get("id").cloned().unwrap_or_default(),
                "type": "function",
                "function": {
                    "name": block.get("name").cloned().unwrap_or_default(),
                    "arguments": block.get("input").map_or_else(|| "{}".to_string(), Value::to_string),
                },
            })),
            Some("tool_result") => out.push(json!({
                "role": "tool",
                "tool_call_id": block.get("tool_use_id").cloned().unwrap_or_default(),
                "content": content::text(block.get("content").unwrap_or(&Value::Null), "\n"),
            })),
            Some("thinking" | "redacted_thinking") => {}
            other => return Err(bad(format!("messages.{i}: content block type {other:?} is not supported"))),
        }
    }
    if role == "assistant" {
        let text: Vec<&str> = parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect();
        let mut msg = json!({ "role": "assistant", "content": if text.is_empty() { Value::Null } else { json!(text.join("")) } });
        if !tool_calls.is_empty() {
            msg["tool_calls"] = Value::Array(tool_calls);
        }
        out.push(msg);
    } else if !parts.is_empty() {
        out.push(json!({ "role": role, "content": parts }));
    }
    Ok(())
}

fn tool_choice(choice: &Value) -> Option<Value> {
    Some(match choice.get("type").and_then(Value::as_str)? {
        "auto" => json!("auto"),
        "any" => json!("required"),
        "none" => json!("none"),
        "tool" => {
            json!({ "type": "function", "function": { "name": choice.get("name").cloned().unwrap_or_default() } })
        }
        _ => return None,
    })
}

/// Translates the request; returns the OpenAI body, the model and whether it streams.
pub fn to_openai(request: &Value) -> Result<(Value, String, bool), AiError> {
    let model = request
        .get("model")
        .and_then(Value::as_str)
        .filter(|m| !m.is_empty())
        .ok_or_else(|| bad("model: Field required"))?
        .to_string();
    let max_tokens = request
        .get("max_tokens")
        .and_then(Value::as_u64)
        .ok_or_else(|| bad("max_tokens: Field required"))?;
    let messages = request
        .get("messages")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("messages: Field required"))?;
    let stream = request
        .get("stream")
        .and_then(Value::as_bool)
        .unwrap_or(false);

    let mut out_messages = Vec::new();
    if let Some(system) = request.get("system") {
        out_messages.push(json!({ "role": "system", "content": content::text(system, "\n") }));
    }
    for (i, m) in messages.iter().enumerate() {
        message(m, i, &mut out_messages)?;
    }
    let mut body = Map::new();
    body.insert("model".into(), json!(model));
    body.insert("messages".into(), Value::Array(out_messages));
    body.insert("max_tokens".into(), json!(max_tokens));
    for key in ["temperature", "top_p"] {
        if let Some(v) = request.get(key) {
            body.insert(key.into(), v.clone());
        }
    }
    if let Some(stop) = request.get("stop_sequences") {
        body.insert("stop".into(), stop.clone());
    }
    if let Some(user) = request.pointer("/metadata/user_id") {
        body.insert("user".into(), user.clone());
    }
    if let Some(tools) = request.get("tools").and_then(Value::as_array) {
        let tools: Vec<Value> = tools
            .iter()
            .map(|t| json!({ "type": "function", "function": {
                "name": t.get("name").cloned().unwrap_or_default(),
                "description": t.get("description").cloned().unwrap_or(json!("")),
                "parameters": t.get("input_schema").cloned().unwrap_or(json!({ "type": "object" })),
            }}))
            .collect();
        body.insert("tools".into(), Value::Array(tools));
    }
    if let Some(choice) = request.get("tool_choice").and_then(tool_choice) {
        body.insert("tool_choice".into(), choice);
    }
    if stream {
        body.insert("stream".into(), json!(true));
        body.insert("stream_options".into(), json!({ "include_usage": true }));
    }
    Ok((Value::Object(body), model, stream))
}
