//! OpenAI chat completion chunks (SSE) → OpenAI Responses stream events (SSE), with the
//! monotonic `sequence_number` the Responses API puts on every event.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::response::{call_item, envelope, message_item, usage};
use crate::sse::{DataLines, EventTranslator};

#[derive(Debug)]
struct Text {
    index: usize,
    id: String,
    text: String,
}

#[derive(Debug)]
struct Call {
    index: usize,
    id: String,
    call_id: String,
    name: String,
    arguments: String,
}

/// Stateful translator of one stream.
#[derive(Debug)]
pub struct ChatToResponses {
    lines: DataLines,
    seq: u64,
    id: String,
    model: String,
    started: bool,
    finished: bool,
    output: Vec<(usize, Value)>,
    next_index: usize,
    text: Option<Text>,
    calls: BTreeMap<u64, Call>,
    usage: Value,
    incomplete: bool,
}

impl ChatToResponses {
    #[must_use]
    pub fn new(model: &str) -> Self {
        Self {
            lines: DataLines::default(),
            seq: 0,
            id: "resp_strata".into(),
            model: model.to_string(),
            started: false,
            finished: false,
            output: Vec::new(),
            next_index: 0,
            text: None,
            calls: BTreeMap::new(),
            usage: json!({}),
            incomplete: false,
        }
    }

    fn event(&mut self, out: &mut Vec<u8>, kind: &str, mut data: Value) {
        data["type"] = json!(kind);
        data["sequence_number"] = json!(self.seq);
        self.seq += 1;
        out.extend_from_slice(format!("event: {kind}\ndata: {data}\n\n").as_bytes());
    }

    fn snapshot(&self, status: &str) -> Value {
        let mut output = self.output.clone();
        output.sort_by_key(|(i, _)| *i);
        let output = output.into_iter().map(|(_, item)| item).collect();
        envelope(
            &self.id,
            &self.model,
            status,
            output,
            usage(&self.usage),
            self.incomplete,
        )
    }

    fn start(&mut self, out: &mut Vec<u8>, chunk: &Value) {
        if self.started {
            return;
        }
        self.started = true;
        if let Some(id) = chunk.get("id").and_then(Value::as_str) {
            self.id = format!("resp_{id}");
        }
        if let Some(model) = chunk.get("model").and_then(Value::as_str) {
            self.model = model.to_string();
        }
        let response = self.snapshot("in_progress");
        self.event(out, "response.created", json!({ "response": response }));
        let response = self.snapshot("in_progress");
        self.event(out, "response.in_progress", json!({ "response": response }));
    }

    fn close_text(&mut self, out: &mut Vec<u8>) {
        let Some(t) = self.text.take() else { return };
        let part = json!({ "type": "output_text", "text": t.text, "annotations": [] });
        self.event(out, "response.output_text.done", json!({ "item_id": t.id, "output_index": t.index, "content_index": 0, "text": t.text, "logprobs": [] }));
        self.event(
            out,
            "response.content_part.done",
            json!({ "item_id": t.id, "output_index": t.index, "content_index": 0, "part": part }),
        );
        let item = message_item(&t.id, &t.text, "completed");
        self.event(
            out,
            "response.output_item.done",
            json!({ "output_index": t.index, "item": item }),
        );
        self.output.push((t.index, item));
    }

    fn close_calls(&mut self, out: &mut Vec<u8>) {
        for (_, c) in std::mem::take(&mut self.calls) {
            self.event(out, "response.function_call_arguments.done", json!({ "item_id": c.id, "output_index": c.index, "name": c.name, "arguments": c.arguments }));
            let item = call_item(&c.id, &c.call_id, &c.name, &c.arguments, "completed");
            self.event(
                out,
                "response.output_item.done",
                json!({ "output_index": c.index, "item": item }),
            );
            self.output.push((c.index, item));
        }
    }

    fn text_delta(&mut self, out: &mut Vec<u8>, delta: &str) {
        if self.text.is_none() {
            let index = self.next_index;
            self.next_index += 1;
            let id = format!("msg_{}_{index}", self.id);
            let item = json!({ "type": "message", "id": id, "status": "in_progress", "role": "assistant", "content": [] });
            self.event(
                out,
                "response.output_item.added",
                json!({ "output_index": index, "item": item }),
            );
            let part = json!({ "type": "output_text", "text": "", "annotations": [] });
            self.event(
                out,
                "response.content_part.added",
                json!({ "item_id": id, "output_index": index, "content_index": 0, "part": part }),
            );
            self.text = Some(Text {
                index,
                id,
                text: String::new(),
            });
        }
        let (id, index) = match self.text.as_mut() {
            Some(t) => {
                t.text.push_str(delta);
                (t.id.clone(), t.index)
            }
            None => return,
        };
        self.event(out, "response.output_text.delta", json!({ "item_id": id, "output_index": index, "content_index": 0, "delta": delta, "logprobs": [] }));
    }

    fn call_delta(&mut self, out: &mut Vec<u8>, call: &Value) {
        let key = call.get("index").and_then(Value::as_u64).unwrap_or(0);
        if !self.calls.contains_key(&key) {
            self.close_text(out);
            let index = self.next_index;
            self.next_index += 1;
            let c = Call {
                index,
                id: format!("fc_{}_{index}", self.id),
                call_id: call
                    .get("id")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                name: call
                    .pointer("/function/name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                arguments: String::new(),
            };
            let item = call_item(&c.id, &c.call_id, &c.name, "", "in_progress");
            self.event(
                out,
                "response.output_item.added",
                json!({ "output_index": index, "item": item }),
            );
            self.calls.insert(key, c);
        }
        let Some(args) = call
            .pointer("/function/arguments")
            .and_then(Value::as_str)
            .filter(|a| !a.is_empty())
        else {
            return;
        };
        let (id, index) = match self.calls.get_mut(&key) {
            Some(c) => {
                c.arguments.push_str(args);
                (c.id.clone(), c.index)
            }
            None => return,
        };
        self.event(
            out,
            "response.function_call_arguments.delta",
            json!({ "item_id": id, "output_index": index, "delta": args }),
        );
    }

    fn on_event(&mut self, data: &str, out: &mut Vec<u8>) {
        if self.finished || data.is_empty() {
            return;
        }
        if data == "[DONE]" {
            self.start(out, &Value::Null);
            self.close_text(out);
            self.close_calls(out);
            let status = if self.incomplete {
                "incomplete"
            } else {
                "completed"
            };
            let response = self.snapshot(status);
            let kind = if self.incomplete {
                "response.incomplete"
            } else {
                "response.completed"
            };
            self.event(out, kind, json!({ "response": response }));
            self.finished = true;
            return;
        }
        let Ok(chunk) = serde_json::from_str::<Value>(data) else {
            return self.fail(out, "the upstream sent a malformed stream chunk");
        };
        if let Some(message) = chunk.pointer("/error/message").and_then(Value::as_str) {
            let message = message.to_string();
            return self.fail(out, &message);
        }
        self.start(out, &chunk);
        if let Some(u) = chunk.get("usage").filter(|u| u.is_object()) {
            self.usage = u.clone();
        }
        let Some(choice) = chunk.pointer("/choices/0") else {
            return;
        };
        if let Some(text) = choice.pointer("/delta/content").and_then(Value::as_str)
            && !text.is_empty()
        {
            self.text_delta(out, text);
        }
        for call in choice
            .pointer("/delta/tool_calls")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            self.call_delta(out, call);
        }
        if choice.get("finish_reason").and_then(Value::as_str) == Some("length") {
            self.incomplete = true;
        }
    }

    fn fail(&mut self, out: &mut Vec<u8>, message: &str) {
        self.event(
            out,
            "error",
            json!({ "code": "upstream_stream_error", "message": message, "param": null }),
        );
        self.finished = true;
    }
}

impl EventTranslator for ChatToResponses {
    fn lines(&mut self) -> &mut DataLines {
        &mut self.lines
    }

    fn on_data(&mut self, data: &[u8], out: &mut Vec<u8>) {
        self.on_event(&String::from_utf8_lossy(data), out);
    }

    fn on_end(&mut self, out: &mut Vec<u8>) {
        if !self.finished {
            self.fail(
                out,
                "the upstream stream ended before the response was complete",
            );
        }
    }
}
