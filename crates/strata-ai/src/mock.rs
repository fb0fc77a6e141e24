//! The built-in `mock` provider: deterministic OpenAI-shaped answers for demos and tests, with
//! no network. It answers `mock: <last user text>`, calls the first tool when tools are
//! offered and the last message is the user's, answers a JSON user message with itself in
//! JSON mode (`response_format`), and counts tokens as ceil(chars / 4).

use serde_json::{Value, json};

use crate::content;

use crate::tokens::estimate as tokens;

/// What the mock decides to answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Text(String),
    ToolCall { name: String, arguments: String },
}

/// The mock's answer to a chat completions request body, with prompt token count.
#[must_use]
pub fn answer(request: &Value) -> (Answer, u64) {
    let messages = request
        .get("messages")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let prompt: String = messages
        .iter()
        .map(|m| content::text(m.get("content").unwrap_or(&Value::Null), " "))
        .collect::<Vec<_>>()
        .join("\n");
    let last = messages.last();
    let last_role = last.and_then(|m| m.get("role")).and_then(Value::as_str);
    let last_text = last
        .map(|m| content::text(m.get("content").unwrap_or(&Value::Null), " "))
        .unwrap_or_default();
    let first_tool = request
        .get("tools")
        .and_then(Value::as_array)
        .and_then(|t| t.first())
        .and_then(|t| t.pointer("/function/name"))
        .and_then(Value::as_str);
    let tool_choice_none = request.get("tool_choice").and_then(Value::as_str) == Some("none");
    let json_mode = matches!(
        request
            .pointer("/response_format/type")
            .and_then(Value::as_str),
        Some("json_object" | "json_schema")
    );
    let answer = match (first_tool, last_role) {
        // JSON mode: a user message that is JSON is answered with itself.
        (_, Some("user"))
            if json_mode && serde_json::from_str::<Value>(last_text.trim()).is_ok() =>
        {
            Answer::Text(last_text.trim().to_string())
        }
        (Some(name), Some("user")) if !tool_choice_none => Answer::ToolCall {
            name: name.to_string(),
            arguments: "{}".into(),
        },
        (_, Some("tool")) => Answer::Text(format!("mock: tool said {last_text}")),
        _ => Answer::Text(format!("mock: {last_text}")),
    };
    (answer, tokens(&prompt))
}

fn completion_tokens(answer: &Answer) -> u64 {
    match answer {
        Answer::Text(t) => tokens(t),
        Answer::ToolCall { name, arguments } => tokens(name) + tokens(arguments),
    }
}

fn usage(prompt: u64, completion: u64) -> Value {
    json!({ "prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion })
}

/// A whole chat completion.
#[must_use]
pub fn chat_completion(request: &Value, model: &str) -> Value {
    let (answer, prompt) = answer(request);
    let completion = completion_tokens(&answer);
    let (message, finish) = match &answer {
        Answer::Text(text) => (json!({ "role": "assistant", "content": text }), "stop"),
        Answer::ToolCall { name, arguments } => (
            json!({ "role": "assistant", "content": null, "tool_calls": [
                { "id": "call_mock_0", "type": "function", "function": { "name": name, "arguments": arguments } }
            ]}),
            "tool_calls",
        ),
    };
    json!({
        "id": "chatcmpl-mock",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [{ "index": 0, "message": message, "logprobs": null, "finish_reason": finish }],
        "usage": usage(prompt, completion),
    })
}

/// The chunks of a streamed chat completion (without the `[DONE]` marker). The text is split
/// after each space; a usage chunk ends the stream when `stream_options.include_usage` is set.
#[must_use]
pub fn chat_chunks(request: &Value, model: &str) -> Vec<Value> {
    let (answer, prompt) = answer(request);
    let completion = completion_tokens(&answer);
    let chunk = |delta: Value, finish: Value| {
        json!({
            "id": "chatcmpl-mock",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": model,
            "choices": [{ "index": 0, "delta": delta, "logprobs": null, "finish_reason": finish }],
        })
    };
    let mut chunks = vec![chunk(
        json!({ "role": "assistant", "content": "" }),
        Value::Null,
    )];
    let finish = match &answer {
        Answer::Text(text) => {
            for piece in text.split_inclusive(' ') {
                chunks.push(chunk(json!({ "content": piece }), Value::Null));
            }
            "stop"
        }
        Answer::ToolCall { name, arguments } => {
            chunks.push(chunk(
                json!({ "tool_calls": [{ "index": 0, "id": "call_mock_0", "type": "function",
                    "function": { "name": name, "arguments": arguments } }] }),
                Value::Null,
            ));
            "tool_calls"
        }
    };
    chunks.push(chunk(json!({}), json!(finish)));
    let include_usage = request
        .pointer("/stream_options/include_usage")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if include_usage {
        let mut last = chunk(json!({}), Value::Null);
        last["choices"] = json!([]);
        last["usage"] = usage(prompt, completion);
        chunks.push(last);
    }
    chunks
}

/// Dimensions of the mock's embeddings.
pub const EMBEDDING_DIMENSIONS: usize = 8;

/// A deterministic unit vector for a text (the same text always gets the same vector).
fn embed(text: &str) -> Vec<f32> {
    let mut state = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let mut v: Vec<f32> = (0..EMBEDDING_DIMENSIONS)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            ((state >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect();
    let norm = v
        .iter()
        .map(|x| x * x)
        .sum::<f32>()
        .sqrt()
        .max(f32::EPSILON);
    v.iter_mut().for_each(|x| *x /= norm);
    v
}

/// An OpenAI embeddings answer: one deterministic vector per input, as floats or, when
/// `encoding_format` is `base64` (the official SDKs' default), as little-endian f32 bytes.
pub fn embeddings(request: &Value, model: &str) -> Result<Value, crate::AiError> {
    let inputs: Vec<String> = match request.get("input") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) if !items.is_empty() => items
            .iter()
            .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_string))
            .collect(),
        _ => {
            return Err(crate::AiError::BadRequest(
                "input: must be a string or a non-empty list".into(),
            ));
        }
    };
    let base64 = request.get("encoding_format").and_then(Value::as_str) == Some("base64");
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(index, text)| {
            let vector = embed(text);
            let embedding = if base64 {
                use base64::Engine as _;
                let bytes: Vec<u8> = vector.iter().flat_map(|x| x.to_le_bytes()).collect();
                json!(base64::engine::general_purpose::STANDARD.encode(bytes))
            } else {
                json!(vector)
            };
            json!({ "object": "embedding", "index": index, "embedding": embedding })
        })
        .collect();
    let tokens: u64 = inputs.iter().map(|t| tokens(t)).sum();
    Ok(json!({ "object": "list", "model": model, "data": data,
        "usage": { "prompt_tokens": tokens, "total_tokens": tokens } }))
}

/// The mock's answer to a Gemini `generateContent` request, read the Gemini way (used by the
/// test kit's mock server when it plays a Gemini provider).
#[must_use]
pub fn gemini_answer(request: &Value) -> (Answer, u64) {
    let parts_text = |parts: &Value| -> String {
        parts
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| {
                p.get("text")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .or_else(|| {
                        p.pointer("/functionResponse/response/content")
                            .and_then(Value::as_str)
                            .map(str::to_string)
                    })
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    let contents = request
        .get("contents")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut prompt = parts_text(
        request
            .pointer("/systemInstruction/parts")
            .unwrap_or(&Value::Null),
    );
    for c in &contents {
        prompt.push('\n');
        prompt.push_str(&parts_text(c.get("parts").unwrap_or(&Value::Null)));
    }
    let last = contents
        .last()
        .and_then(|c| c.get("parts"))
        .cloned()
        .unwrap_or(Value::Null);
    let response = last
        .as_array()
        .and_then(|parts| {
            parts
                .iter()
                .find_map(|p| p.pointer("/functionResponse/response/content"))
        })
        .and_then(Value::as_str)
        .map(str::to_string);
    let first_tool = request
        .pointer("/tools/0/functionDeclarations/0/name")
        .and_then(Value::as_str);
    let tools_off = request
        .pointer("/toolConfig/functionCallingConfig/mode")
        .and_then(Value::as_str)
        == Some("NONE");
    let answer = match (response, first_tool) {
        (Some(result), _) => Answer::Text(format!("mock: tool said {result}")),
        (None, Some(name)) if !tools_off => Answer::ToolCall {
            name: name.to_string(),
            arguments: "{}".into(),
        },
        (None, _) => Answer::Text(format!("mock: {}", parts_text(&last))),
    };
    (answer, tokens(&prompt))
}

/// Gemini answer chunks: the whole answer when `chunked` is false, else text split after
/// each space, the last chunk carrying `finishReason` and `usageMetadata`.
#[must_use]
pub fn gemini_chunks(request: &Value, model: &str, chunked: bool) -> Vec<Value> {
    let (answer, prompt) = gemini_answer(request);
    let output = completion_tokens(&answer);
    let pieces: Vec<Value> = match &answer {
        Answer::Text(text) if chunked => text
            .split_inclusive(' ')
            .map(|t| json!({ "text": t }))
            .collect(),
        Answer::Text(text) => vec![json!({ "text": text })],
        Answer::ToolCall { name, .. } => {
            vec![json!({ "functionCall": { "name": name, "args": {} } })]
        }
    };
    let count = pieces.len();
    pieces
        .into_iter()
        .enumerate()
        .map(|(i, part)| {
            let mut chunk = json!({ "responseId": "gemini-mock", "modelVersion": model,
                "candidates": [{ "index": 0, "content": { "role": "model", "parts": [part] } }] });
            if i + 1 == count {
                chunk["candidates"][0]["finishReason"] = json!("STOP");
                chunk["usageMetadata"] = json!({ "promptTokenCount": prompt, "candidatesTokenCount": output, "totalTokenCount": prompt + output });
            }
            chunk
        })
        .collect()
}

/// The mock's answer to an Anthropic Messages request, read the Anthropic way (used by the
/// test kit's mock server when it plays an Anthropic provider).
#[must_use]
pub fn anthropic_answer(request: &Value) -> (Answer, u64) {
    let blocks_text = |content: &Value| -> String {
        match content {
            Value::String(s) => s.clone(),
            Value::Array(blocks) => blocks
                .iter()
                .filter_map(|b| match b.get("type").and_then(Value::as_str) {
                    Some("text") => b.get("text").and_then(Value::as_str).map(str::to_string),
                    Some("tool_result") => {
                        Some(content::text(b.get("content").unwrap_or(&Value::Null), " "))
                    }
                    _ => None,
                })
                .collect::<Vec<_>>()
                .join(" "),
            _ => String::new(),
        }
    };
    let messages = request
        .get("messages")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut prompt = content::text(request.get("system").unwrap_or(&Value::Null), " ");
    for m in &messages {
        prompt.push('\n');
        prompt.push_str(&blocks_text(m.get("content").unwrap_or(&Value::Null)));
    }
    let last = messages
        .last()
        .and_then(|m| m.get("content"))
        .unwrap_or(&Value::Null);
    let tool_result = last.as_array().and_then(|blocks| {
        blocks
            .iter()
            .find(|b| b.get("type").and_then(Value::as_str) == Some("tool_result"))
    });
    let first_tool = request
        .get("tools")
        .and_then(Value::as_array)
        .and_then(|t| t.first())
        .and_then(|t| t.get("name"))
        .and_then(Value::as_str);
    let answer = match (tool_result, first_tool) {
        (Some(result), _) => Answer::Text(format!(
            "mock: tool said {}",
            content::text(result.get("content").unwrap_or(&Value::Null), " ")
        )),
        (None, Some(name))
            if request.pointer("/tool_choice/type").and_then(Value::as_str) != Some("none") =>
        {
            Answer::ToolCall {
                name: name.to_string(),
                arguments: "{}".into(),
            }
        }
        (None, _) => Answer::Text(format!("mock: {}", blocks_text(last))),
    };
    (answer, tokens(&prompt))
}

/// A whole Anthropic message.
#[must_use]
pub fn anthropic_message(request: &Value, model: &str) -> Value {
    let (answer, prompt) = anthropic_answer(request);
    let output = completion_tokens(&answer);
    let (content, stop) = match &answer {
        Answer::Text(text) => (json!([{ "type": "text", "text": text }]), "end_turn"),
        Answer::ToolCall { name, .. } => (
            json!([{ "type": "tool_use", "id": "toolu_mock_0", "name": name, "input": {} }]),
            "tool_use",
        ),
    };
    json!({ "id": "msg_mock", "type": "message", "role": "assistant", "model": model, "content": content,
        "stop_reason": stop, "stop_sequence": null, "usage": { "input_tokens": prompt, "output_tokens": output } })
}

/// The events of a streamed Anthropic message, as `(event name, data)`.
#[must_use]
pub fn anthropic_events(request: &Value, model: &str) -> Vec<(String, Value)> {
    let (answer, prompt) = anthropic_answer(request);
    let output = completion_tokens(&answer);
    let mut events = vec![
        (
            "message_start",
            json!({ "type": "message_start", "message": { "id": "msg_mock", "type": "message",
            "role": "assistant", "model": model, "content": [], "stop_reason": null, "stop_sequence": null,
            "usage": { "input_tokens": prompt, "output_tokens": 1 } } }),
        ),
        ("ping", json!({ "type": "ping" })),
    ];
    let stop = match &answer {
        Answer::Text(text) => {
            events.push((
                "content_block_start",
                json!({ "type": "content_block_start", "index": 0,
                "content_block": { "type": "text", "text": "" } }),
            ));
            for piece in text.split_inclusive(' ') {
                events.push((
                    "content_block_delta",
                    json!({ "type": "content_block_delta", "index": 0,
                    "delta": { "type": "text_delta", "text": piece } }),
                ));
            }
            "end_turn"
        }
        Answer::ToolCall { name, arguments } => {
            events.push(("content_block_start", json!({ "type": "content_block_start", "index": 0,
                "content_block": { "type": "tool_use", "id": "toolu_mock_0", "name": name, "input": {} } })));
            events.push((
                "content_block_delta",
                json!({ "type": "content_block_delta", "index": 0,
                "delta": { "type": "input_json_delta", "partial_json": arguments } }),
            ));
            "tool_use"
        }
    };
    events.push((
        "content_block_stop",
        json!({ "type": "content_block_stop", "index": 0 }),
    ));
    events.push(("message_delta", json!({ "type": "message_delta",
        "delta": { "stop_reason": stop, "stop_sequence": null }, "usage": { "output_tokens": output } })));
    events.push(("message_stop", json!({ "type": "message_stop" })));
    events
        .into_iter()
        .map(|(name, data)| (name.to_string(), data))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embeddings_are_deterministic_unit_vectors() {
        let body = embeddings(&json!({ "input": ["a", "b", "a"] }), "e").unwrap();
        let v = |i: usize| {
            body["data"][i]["embedding"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect::<Vec<_>>()
        };
        assert_eq!(v(0).len(), EMBEDDING_DIMENSIONS);
        assert_eq!(v(0), v(2));
        assert_ne!(v(0), v(1));
        let norm: f64 = v(1).iter().map(|x| x * x).sum();
        assert!((norm - 1.0).abs() < 1e-5, "{norm}");
        let b64 = embeddings(&json!({ "input": "a", "encoding_format": "base64" }), "e").unwrap();
        assert_eq!(b64["data"][0]["embedding"].as_str().unwrap().len(), 44); // 32 bytes
        assert!(embeddings(&json!({ "input": [] }), "e").is_err());
    }

    #[test]
    fn echoes_the_last_user_message() {
        let req = json!({ "model": "m", "messages": [
            { "role": "system", "content": "be brief" },
            { "role": "user", "content": [{ "type": "text", "text": "hello there" }] }
        ]});
        let body = chat_completion(&req, "m");
        assert_eq!(
            body["choices"][0]["message"]["content"],
            "mock: hello there"
        );
        assert_eq!(body["usage"]["prompt_tokens"], 5); // "be brief\nhello there" = 20 chars
        assert_eq!(body["usage"]["completion_tokens"], 5);
    }

    #[test]
    fn calls_the_first_tool_then_answers_its_result() {
        let tools = json!([{ "type": "function", "function": { "name": "get_weather", "parameters": {} } }]);
        let req =
            json!({ "messages": [{ "role": "user", "content": "weather?" }], "tools": tools });
        let body = chat_completion(&req, "m");
        assert_eq!(body["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(
            body["choices"][0]["message"]["tool_calls"][0]["function"]["name"],
            "get_weather"
        );
        let req = json!({ "messages": [
            { "role": "user", "content": "weather?" },
            { "role": "tool", "tool_call_id": "call_mock_0", "content": "sunny" }
        ], "tools": tools });
        assert_eq!(
            chat_completion(&req, "m")["choices"][0]["message"]["content"],
            "mock: tool said sunny"
        );
    }

    #[test]
    fn streams_words_and_usage() {
        let req = json!({ "messages": [{ "role": "user", "content": "a b" }],
            "stream": true, "stream_options": { "include_usage": true } });
        let chunks = chat_chunks(&req, "m");
        let text: String = chunks
            .iter()
            .filter_map(|c| {
                c.pointer("/choices/0/delta/content")
                    .and_then(Value::as_str)
            })
            .collect();
        assert_eq!(text, "mock: a b");
        assert_eq!(chunks.len(), 1 + 3 + 1 + 1);
        assert_eq!(chunks.last().unwrap()["usage"]["total_tokens"], 1 + 3);
    }
}
