//! OpenAI chat completions request → Gemini `generateContent` request.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use crate::{AiError, content};

fn part_of(p: &Value) -> Option<Value> {
    match p.get("type").and_then(Value::as_str) {
        Some("text") => Some(json!({ "text": p.get("text").cloned().unwrap_or_default() })),
        Some("image_url") => {
            let url = p.pointer("/image_url/url").and_then(Value::as_str)?;
            Some(
                match url
                    .strip_prefix("data:")
                    .and_then(|r| r.split_once(";base64,"))
                {
                    Some((mime, data)) => {
                        json!({ "inlineData": { "mimeType": mime, "data": data } })
                    }
                    None => json!({ "fileData": { "mimeType": "image/*", "fileUri": url } }),
                },
            )
        }
        _ => None,
    }
}

fn parts(content: &Value) -> Vec<Value> {
    match content {
        Value::String(s) if s.is_empty() => Vec::new(),
        Value::String(s) => vec![json!({ "text": s })],
        Value::Array(items) => items.iter().filter_map(part_of).collect(),
        _ => Vec::new(),
    }
}

/// JSON Schema keywords Gemini's `parameters` rejects.
fn gemini_schema(schema: &Value) -> Value {
    match schema {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| {
                    !matches!(
                        k.as_str(),
                        "$schema" | "additionalProperties" | "strict" | "$id"
                    )
                })
                .map(|(k, v)| (k.clone(), gemini_schema(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(gemini_schema).collect()),
        other => other.clone(),
    }
}

/// Translates an OpenAI chat request into a Gemini request (the model goes in the URL).
pub fn from_openai(openai: &Value) -> Result<Value, AiError> {
    let mut system = Vec::new();
    let mut contents: Vec<Value> = Vec::new();
    // Gemini answers a function by name; OpenAI by call id.
    let mut names: HashMap<String, String> = HashMap::new();
    for m in openai
        .get("messages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let content = m.get("content").unwrap_or(&Value::Null);
        match m.get("role").and_then(Value::as_str) {
            Some("system" | "developer") => {
                system.push(json!({ "text": content::text(content, "\n") }))
            }
            Some("user") => content::push_merged(&mut contents, "user", "parts", parts(content)),
            Some("assistant") => {
                let mut out = parts(content);
                for call in m
                    .get("tool_calls")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let id = call.get("id").and_then(Value::as_str).unwrap_or_default();
                    let name = call
                        .pointer("/function/name")
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    names.insert(id.to_string(), name.to_string());
                    let args = call
                        .pointer("/function/arguments")
                        .and_then(Value::as_str)
                        .unwrap_or("{}");
                    out.push(json!({ "functionCall": { "name": name,
                        "args": serde_json::from_str::<Value>(args).unwrap_or_else(|_| json!({})) } }));
                }
                content::push_merged(&mut contents, "model", "parts", out);
            }
            Some("tool") => {
                let id = m
                    .get("tool_call_id")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let name = names.get(id).cloned().unwrap_or_else(|| id.to_string());
                content::push_merged(
                    &mut contents,
                    "user",
                    "parts",
                    vec![json!({ "functionResponse": { "name": name,
                    "response": { "content": content::text(content, "\n") } } })],
                );
            }
            other => {
                return Err(AiError::BadRequest(format!(
                    "message role {other:?} is not supported"
                )));
            }
        }
    }
    let mut body = Map::new();
    body.insert("contents".into(), Value::Array(contents));
    if !system.is_empty() {
        body.insert("systemInstruction".into(), json!({ "parts": system }));
    }
    let mut generation = Map::new();
    for (from, to) in [
        ("temperature", "temperature"),
        ("top_p", "topP"),
        ("max_completion_tokens", "maxOutputTokens"),
        ("max_tokens", "maxOutputTokens"),
    ] {
        if let Some(v) = openai.get(from).filter(|v| !v.is_null()) {
            generation.entry(to).or_insert_with(|| v.clone());
        }
    }
    match openai.get("stop") {
        Some(Value::String(s)) => {
            generation.insert("stopSequences".into(), json!([s]));
        }
        Some(v @ Value::Array(_)) => {
            generation.insert("stopSequences".into(), v.clone());
        }
        _ => {}
    }
    match openai
        .pointer("/response_format/type")
        .and_then(Value::as_str)
    {
        Some("json_object") => {
            generation.insert("responseMimeType".into(), json!("application/json"));
        }
        Some("json_schema") => {
            generation.insert("responseMimeType".into(), json!("application/json"));
            if let Some(schema) = openai.pointer("/response_format/json_schema/schema") {
                generation.insert("responseJsonSchema".into(), schema.clone());
            }
        }
        _ => {}
    }
    if !generation.is_empty() {
        body.insert("generationConfig".into(), Value::Object(generation));
    }
    if let Some(tools) = openai.get("tools").and_then(Value::as_array) {
        let declarations: Vec<Value> = tools
            .iter()
            .filter_map(|t| t.get("function"))
            .map(|f| json!({
                "name": f.get("name").cloned().unwrap_or_default(),
                "description": f.get("description").cloned().unwrap_or(json!("")),
                "parameters": gemini_schema(f.get("parameters").unwrap_or(&json!({ "type": "object" }))),
            }))
            .collect();
        body.insert(
            "tools".into(),
            json!([{ "functionDeclarations": declarations }]),
        );
    }
    let mode = match openai.get("tool_choice") {
        Some(Value::String(s)) if s == "auto" => Some(json!({ "mode": "AUTO" })),
        Some(Value::String(s)) if s == "required" => Some(json!({ "mode": "ANY" })),
        Some(Value::String(s)) if s == "none" => Some(json!({ "mode": "NONE" })),
        Some(Value::Object(o)) => o
            .get("function")
            .and_then(|f| f.get("name"))
            .map(|name| json!({ "mode": "ANY", "allowedFunctionNames": [name] })),
        _ => None,
    };
    if let Some(mode) = mode {
        body.insert(
            "toolConfig".into(),
            json!({ "functionCallingConfig": mode }),
        );
    }
    Ok(Value::Object(body))
}
