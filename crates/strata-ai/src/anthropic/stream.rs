//! OpenAI chat completion chunks (SSE) → Anthropic message stream events (SSE), one chunk at
//! a time: nothing is held back longer than it takes to see a whole SSE line.

use serde_json::{Value, json};

use super::response::stop_reason;
use crate::sse::{DataLines, EventTranslator};

/// The content block being streamed.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Open {
    Text(usize),
    /// A tool call: Anthropic block index and the OpenAI `tool_calls[].index` it came from.
    Tool(usize, u64),
}

/// Stateful translator of one stream.
#[derive(Debug)]
pub struct StreamTranslator {
    lines: DataLines,
    model: String,
    started: bool,
    finished: bool,
    next_index: usize,
    open: Option<Open>,
    stop_reason: &'static str,
    input_tokens: u64,
    output_tokens: u64,
}

fn event(out: &mut Vec<u8>, kind: &str, data: &Value) {
    out.extend_from_slice(format!("event: {kind}\ndata: {data}\n\n").as_bytes());
}

impl StreamTranslator {
    /// A translator for a stream answering `model`.
    #[must_use]
    pub fn new(model: &str) -> Self {
        Self {
            lines: DataLines::default(),
            model: model.to_string(),
            started: false,
            finished: false,
            next_index: 0,
            open: None,
            stop_reason: "end_turn",
            input_tokens: 0,
            output_tokens: 0,
        }
    }

    fn error(&mut self, out: &mut Vec<u8>, message: &str) {
        event(
            out,
            "error",
            &json!({ "type": "error", "error": { "type": "api_error", "message": message } }),
        );
        self.finished = true;
    }

    fn start(&mut self, out: &mut Vec<u8>, chunk: &Value) {
        if self.started {
            return;
        }
        self.started = true;
        let id = chunk.get("id").and_then(Value::as_str).unwrap_or("strata");
        let model = chunk
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or(&self.model)
            .to_string();
        event(
            out,
            "message_start",
            &json!({ "type": "message_start", "message": {
            "id": format!("msg_{id}"), "type": "message", "role": "assistant", "model": model,
            "content": [], "stop_reason": null, "stop_sequence": null,
            "usage": { "input_tokens": 0, "output_tokens": 0 } } }),
        );
    }

    fn close_block(&mut self, out: &mut Vec<u8>) {
        if let Some(Open::Text(index) | Open::Tool(index, _)) = self.open.take() {
            event(
                out,
                "content_block_stop",
                &json!({ "type": "content_block_stop", "index": index }),
            );
        }
    }

    fn open_block(&mut self, out: &mut Vec<u8>, open: Open, block: &Value) {
        self.close_block(out);
        let index = self.next_index;
        self.next_index += 1;
        self.open = Some(match open {
            Open::Text(_) => Open::Text(index),
            Open::Tool(_, i) => Open::Tool(index, i),
        });
        event(
            out,
            "content_block_start",
            &json!({ "type": "content_block_start", "index": index, "content_block": block }),
        );
    }

    fn on_event(&mut self, data: &str, out: &mut Vec<u8>) {
        if self.finished || data.is_empty() {
            return;
        }
        if data == "[DONE]" {
            self.close_block(out);
            self.start(out, &Value::Null);
            event(
                out,
                "message_delta",
                &json!({ "type": "message_delta",
                "delta": { "stop_reason": self.stop_reason, "stop_sequence": null },
                "usage": { "input_tokens": self.input_tokens, "output_tokens": self.output_tokens } }),
            );
            event(out, "message_stop", &json!({ "type": "message_stop" }));
            self.finished = true;
            return;
        }
        let Ok(chunk) = serde_json::from_str::<Value>(data) else {
            return self.error(out, "the upstream sent a malformed stream chunk");
        };
        if let Some(message) = chunk.pointer("/error/message").and_then(Value::as_str) {
            let message = message.to_string();
            return self.error(out, &message);
        }
        self.start(out, &chunk);
        if let Some(usage) = chunk.get("usage").filter(|u| u.is_object()) {
            self.input_tokens = usage
                .get("prompt_tokens")
                .and_then(Value::as_u64)
                .unwrap_or(0);
            self.output_tokens = usage
                .get("completion_tokens")
                .and_then(Value::as_u64)
                .unwrap_or(0);
        }
        let Some(choice) = chunk.pointer("/choices/0") else {
            return;
        };
        let delta = choice.get("delta").unwrap_or(&Value::Null);
        if let Some(text) = delta.get("content").and_then(Value::as_str)
            && !text.is_empty()
        {
            let index = match self.open {
                Some(Open::Text(index)) => index,
                _ => {
                    self.open_block(out, Open::Text(0), &json!({ "type": "text", "text": "" }));
                    self.next_index - 1
                }
            };
            event(
                out,
                "content_block_delta",
                &json!({ "type": "content_block_delta", "index": index,
                "delta": { "type": "text_delta", "text": text } }),
            );
        }
        for call in delta
            .get("tool_calls")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let openai_index = call.get("index").and_then(Value::as_u64).unwrap_or(0);
            let same = matches!(self.open, Some(Open::Tool(_, i)) if i == openai_index);
            if !same {
                let block = json!({ "type": "tool_use",
                    "id": call.get("id").cloned().unwrap_or_default(),
                    "name": call.pointer("/function/name").cloned().unwrap_or_default(),
                    "input": {} });
                self.open_block(out, Open::Tool(0, openai_index), &block);
            }
            if let (Some(Open::Tool(index, _)), Some(args)) = (
                self.open,
                call.pointer("/function/arguments").and_then(Value::as_str),
            ) && !args.is_empty()
            {
                event(
                    out,
                    "content_block_delta",
                    &json!({ "type": "content_block_delta", "index": index,
                    "delta": { "type": "input_json_delta", "partial_json": args } }),
                );
            }
        }
        if let Some(finish) = choice.get("finish_reason").and_then(Value::as_str) {
            self.stop_reason = stop_reason(Some(finish));
        }
    }
}

impl EventTranslator for StreamTranslator {
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
