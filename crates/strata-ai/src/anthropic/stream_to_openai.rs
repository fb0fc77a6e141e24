//! Anthropic message stream events (SSE) → OpenAI chat completion chunks (SSE).

use std::collections::HashMap;

use serde_json::{Value, json};

use super::upstream::{finish_reason, usage};
use crate::sse::{DataLines, EventTranslator};

/// Stateful translator of one stream.
#[derive(Debug)]
pub struct StreamToOpenAi {
    lines: DataLines,
    id: String,
    model: String,
    created: i64,
    include_usage: bool,
    /// Anthropic content block index → OpenAI tool call index.
    tools: HashMap<u64, usize>,
    usage: Value,
    finished: bool,
}

impl StreamToOpenAi {
    /// A translator for a stream answering `model`; `include_usage` adds the final usage chunk
    /// (`stream_options.include_usage`).
    #[must_use]
    pub fn new(model: &str, include_usage: bool) -> Self {
        Self {
            lines: DataLines::default(),
            id: "chatcmpl-strata".into(),
            model: model.to_string(),
            created: strata_core::now_ms() / 1000,
            include_usage,
            tools: HashMap::new(),
            usage: json!({}),
            finished: false,
        }
    }

    fn chunk(&self, out: &mut Vec<u8>, delta: Value, finish: Value) {
        let mut choice = serde_json::Map::new();
        choice.insert("index".into(), json!(0));
        choice.insert("delta".into(), delta);
        choice.insert("logprobs".into(), Value::Null);
        choice.insert("finish_reason".into(), finish);
        let chunk = json!({ "id": self.id, "object": "chat.completion.chunk", "created": self.created,
            "model": self.model, "choices": [Value::Object(choice)] });
        out.extend_from_slice(format!("data: {chunk}\n\n").as_bytes());
    }

    fn error(&mut self, out: &mut Vec<u8>, message: &str) {
        let body = json!({ "error": { "message": message, "type": "api_error", "param": null, "code": "upstream_stream_error" } });
        out.extend_from_slice(format!("data: {body}\n\n").as_bytes());
        self.finished = true;
    }

    fn on_event(&mut self, data: &str, out: &mut Vec<u8>) {
        if self.finished || data.is_empty() {
            return;
        }
        let Ok(event) = serde_json::from_str::<Value>(data) else {
            return self.error(out, "the upstream sent a malformed stream event");
        };
        match event.get("type").and_then(Value::as_str) {
            Some("message_start") => {
                let message = event.get("message").unwrap_or(&Value::Null);
                if let Some(id) = message.get("id").and_then(Value::as_str) {
                    self.id = format!("chatcmpl-{id}");
                }
                if let Some(model) = message.get("model").and_then(Value::as_str) {
                    self.model = model.to_string();
                }
                if let Some(u) = message.get("usage") {
                    merge(&mut self.usage, u);
                }
                self.chunk(
                    out,
                    json!({ "role": "assistant", "content": "" }),
                    Value::Null,
                );
            }
            Some("content_block_start") => {
                let block = event.get("content_block").unwrap_or(&Value::Null);
                if block.get("type").and_then(Value::as_str) == Some("tool_use") {
                    let index = event.get("index").and_then(Value::as_u64).unwrap_or(0);
                    let tool = self.tools.len();
                    self.tools.insert(index, tool);
                    let call = json!([{ "index": tool, "id": block.get("id").cloned().unwrap_or_default(), "type": "function",
                        "function": { "name": block.get("name").cloned().unwrap_or_default(), "arguments": "" } }]);
                    self.chunk(out, json!({ "tool_calls": call }), Value::Null);
                }
            }
            Some("content_block_delta") => {
                let delta = event.get("delta").unwrap_or(&Value::Null);
                match delta.get("type").and_then(Value::as_str) {
                    Some("text_delta") => {
                        let text = delta.get("text").cloned().unwrap_or_default();
                        self.chunk(out, json!({ "content": text }), Value::Null);
                    }
                    Some("input_json_delta") => {
                        let index = event.get("index").and_then(Value::as_u64).unwrap_or(0);
                        let tool = self.tools.get(&index).copied().unwrap_or(0);
                        let partial = delta.get("partial_json").cloned().unwrap_or_default();
                        let call = json!([{ "index": tool, "function": { "arguments": partial } }]);
                        self.chunk(out, json!({ "tool_calls": call }), Value::Null);
                    }
                    _ => {}
                }
            }
            Some("message_delta") => {
                if let Some(u) = event.get("usage") {
                    merge(&mut self.usage, u);
                }
                let stop = event.pointer("/delta/stop_reason").and_then(Value::as_str);
                self.chunk(out, json!({}), json!(finish_reason(stop)));
            }
            Some("message_stop") => {
                if self.include_usage {
                    let chunk = json!({ "id": self.id, "object": "chat.completion.chunk", "created": self.created,
                        "model": self.model, "choices": [], "usage": usage(&self.usage) });
                    out.extend_from_slice(format!("data: {chunk}\n\n").as_bytes());
                }
                out.extend_from_slice(b"data: [DONE]\n\n");
                self.finished = true;
            }
            Some("error") => {
                let message = event
                    .pointer("/error/message")
                    .and_then(Value::as_str)
                    .unwrap_or("the upstream reported an error")
                    .to_string();
                self.error(out, &message);
            }
            _ => {} // ping, content_block_stop, and events added later
        }
    }
}

/// Later usage numbers win over earlier ones.
fn merge(into: &mut Value, from: &Value) {
    if let (Some(into), Some(from)) = (into.as_object_mut(), from.as_object()) {
        for (k, v) in from {
            if !v.is_null() {
                into.insert(k.clone(), v.clone());
            }
        }
    }
}

impl EventTranslator for StreamToOpenAi {
    fn lines(&mut self) -> &mut DataLines {
        &mut self.lines
    }

    fn on_data(&mut self, data: &[u8], out: &mut Vec<u8>) {
        self.on_event(&String::from_utf8_lossy(data), out);
    }

    fn on_end(&mut self, out: &mut Vec<u8>) {
        if !self.finished {
            self.error(
                out,
                "the upstream stream ended before the message was complete",
            );
        }
    }
}
