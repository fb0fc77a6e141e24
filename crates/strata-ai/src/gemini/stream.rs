//! Gemini `streamGenerateContent?alt=sse` chunks → OpenAI chat completion chunks. A Gemini
//! stream has no end marker: it is complete once a chunk carried a `finishReason`.

use serde_json::{Value, json};

use super::response::{finish_reason, split_parts, usage};
use crate::sse::{DataLines, EventTranslator};

/// Stateful translator of one stream.
#[derive(Debug)]
pub struct StreamToOpenAi {
    lines: DataLines,
    id: String,
    model: String,
    created: i64,
    include_usage: bool,
    started: bool,
    calls: usize,
    usage: Value,
    finished: bool,
    failed: bool,
}

impl StreamToOpenAi {
    #[must_use]
    pub fn new(model: &str, include_usage: bool) -> Self {
        Self {
            lines: DataLines::default(),
            id: "chatcmpl-gemini".into(),
            model: model.to_string(),
            created: strata_core::now_ms() / 1000,
            include_usage,
            started: false,
            calls: 0,
            usage: Value::Null,
            finished: false,
            failed: false,
        }
    }

    fn chunk(&self, out: &mut Vec<u8>, delta: Value, finish: Option<&str>) {
        let mut choice = serde_json::Map::new();
        choice.insert("index".into(), json!(0));
        choice.insert("delta".into(), delta);
        choice.insert("logprobs".into(), Value::Null);
        choice.insert(
            "finish_reason".into(),
            finish.map_or(Value::Null, |f| json!(f)),
        );
        let chunk = json!({ "id": self.id, "object": "chat.completion.chunk", "created": self.created,
            "model": self.model, "choices": [Value::Object(choice)] });
        out.extend_from_slice(format!("data: {chunk}\n\n").as_bytes());
    }

    fn fail(&mut self, out: &mut Vec<u8>, message: &str) {
        let body = json!({ "error": { "message": message, "type": "api_error", "param": null, "code": "upstream_stream_error" } });
        out.extend_from_slice(format!("data: {body}\n\n").as_bytes());
        self.failed = true;
    }

    fn on_event(&mut self, data: &[u8], out: &mut Vec<u8>) {
        if self.failed || data.is_empty() {
            return;
        }
        let Ok(answer) = serde_json::from_slice::<Value>(data) else {
            return self.fail(out, "the upstream sent a malformed stream chunk");
        };
        if let Some(message) = answer.pointer("/error/message").and_then(Value::as_str) {
            let message = message.to_string();
            return self.fail(out, &message);
        }
        if !self.started {
            self.started = true;
            if let Some(id) = answer.get("responseId").and_then(Value::as_str) {
                self.id = format!("chatcmpl-{id}");
            }
            if let Some(model) = answer.get("modelVersion").and_then(Value::as_str) {
                self.model = model.to_string();
            }
            self.chunk(out, json!({ "role": "assistant", "content": "" }), None);
        }
        if let Some(meta) = answer.get("usageMetadata") {
            self.usage = meta.clone();
        }
        let candidate = answer.pointer("/candidates/0").unwrap_or(&Value::Null);
        let parts = candidate
            .pointer("/content/parts")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let (text, calls) = split_parts(&parts, self.calls);
        if !text.is_empty() {
            self.chunk(out, json!({ "content": text }), None);
        }
        if !calls.is_empty() {
            self.calls += calls.len();
            self.chunk(out, json!({ "tool_calls": calls }), None);
        }
        if let Some(finish) = finish_reason(
            candidate.get("finishReason").and_then(Value::as_str),
            self.calls > 0,
        ) {
            self.chunk(out, json!({}), Some(finish));
            self.finished = true;
        }
    }
}

impl EventTranslator for StreamToOpenAi {
    fn lines(&mut self) -> &mut DataLines {
        &mut self.lines
    }

    fn on_data(&mut self, data: &[u8], out: &mut Vec<u8>) {
        self.on_event(data, out);
    }

    /// A Gemini stream has no end marker: it is complete if a chunk carried a finish reason.
    fn on_end(&mut self, out: &mut Vec<u8>) {
        if self.failed {
            return;
        }
        if !self.finished {
            self.fail(
                out,
                "the upstream stream ended before the answer was complete",
            );
            return;
        }
        if self.include_usage {
            let chunk = json!({ "id": self.id, "object": "chat.completion.chunk", "created": self.created,
                "model": self.model, "choices": [], "usage": usage(&self.usage) });
            out.extend_from_slice(format!("data: {chunk}\n\n").as_bytes());
        }
        out.extend_from_slice(b"data: [DONE]\n\n");
    }
}
