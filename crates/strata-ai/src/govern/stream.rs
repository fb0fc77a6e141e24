//! Response guardrails on a stream, in the client's format: the text deltas of each choice
//! (OpenAI), content block (Anthropic) or output part (Responses) pass through a
//! [`StreamGuard`], which holds back only what may still become part of a match across chunk
//! boundaries. What is held back is released before the part ends. A block ends the stream
//! with an error event in the client's format. The full texts that Responses streams repeat
//! at the end (`*.done`, `response.completed`) are checked whole.

use std::collections::HashMap;

use axum::body::Body;
use serde_json::{Value, json};
use strata_config::GuardSide;
use strata_policy::guard::{Blocked, Guards, StreamGuard, Verdict};
use tokio::sync::oneshot;

use crate::convert::Format;
use crate::sse::{DataLines, EventTranslator};

/// `body` with its text guarded, and the stream's verdicts once it has ended (or was
/// dropped).
pub fn guard(
    body: Body,
    guards: Guards,
    format: Format,
) -> (Body, oneshot::Receiver<Vec<Verdict>>) {
    let (done, verdicts) = oneshot::channel();
    let translator = Guarded {
        guards,
        format,
        lines: DataLines::default(),
        parts: HashMap::new(),
        stopped: false,
        verdicts: Vec::new(),
        done: Some(done),
    };
    (
        crate::convert::convert_stream(body, Box::new(translator)),
        verdicts,
    )
}

struct Guarded {
    guards: Guards,
    format: Format,
    lines: DataLines,
    /// One guard per choice, content block or output part.
    parts: HashMap<String, StreamGuard>,
    /// A guardrail blocked: nothing more is passed on.
    stopped: bool,
    verdicts: Vec<Verdict>,
    done: Option<oneshot::Sender<Vec<Verdict>>>,
}

impl Drop for Guarded {
    fn drop(&mut self) {
        if let Some(done) = self.done.take() {
            let _ = done.send(std::mem::take(&mut self.verdicts));
        }
    }
}

/// The stream's error event, in the client's format, for an answer a guardrail blocked.
pub(super) fn blocked_event(format: Format, blocked: &Blocked, out: &mut Vec<u8>) {
    let message = format!(
        "blocked by guardrail `{}` on the response: {}",
        blocked.guardrail, blocked.reason
    );
    match format {
        Format::Anthropic => write_event(
            out,
            Some("error"),
            &json!({ "type": "error", "error": { "type": "invalid_request_error", "message": message } }),
        ),
        Format::Responses => write_event(
            out,
            Some("error"),
            &json!({ "type": "error", "code": "guardrail_blocked", "message": message, "param": null }),
        ),
        Format::OpenAi | Format::Gemini => write_event(
            out,
            None,
            &json!({ "error": { "message": message, "type": "invalid_request_error", "code": "guardrail_blocked", "param": null } }),
        ),
    }
}

fn write_event(out: &mut Vec<u8>, event: Option<&str>, data: &Value) {
    if let Some(name) = event {
        out.extend_from_slice(format!("event: {name}\n").as_bytes());
    }
    out.extend_from_slice(format!("data: {data}\n\n").as_bytes());
}

impl Guarded {
    fn part(&mut self, id: String) -> &mut StreamGuard {
        let guards = &self.guards;
        self.parts.entry(id).or_insert_with(|| guards.stream())
    }

    /// The client's error event for a block, and the end of passing things on.
    fn block(&mut self, blocked: &Blocked, out: &mut Vec<u8>) {
        self.stopped = true;
        self.verdicts.extend(blocked.verdicts.iter().cloned());
        blocked_event(self.format, blocked, out);
    }

    fn collect(&mut self, guard: &StreamGuard) {
        self.verdicts.extend(guard.verdicts().iter().cloned());
    }

    /// Feeds a delta; `Err` when blocked (the error event is written).
    fn pass(&mut self, id: String, text: &str, out: &mut Vec<u8>) -> Result<String, ()> {
        match self.part(id).push(text) {
            Ok(safe) => Ok(safe),
            Err(blocked) => {
                self.block(&blocked, out);
                Err(())
            }
        }
    }

    /// Ends a part: what it held back, checked.
    fn end_part(&mut self, id: &str, out: &mut Vec<u8>) -> Result<String, ()> {
        let Some(mut guard) = self.parts.remove(id) else {
            return Ok(String::new());
        };
        let result = guard.finish();
        self.collect(&guard);
        result.map_err(|blocked| self.block(&blocked, out))
    }

    fn openai(&mut self, mut event: Value, out: &mut Vec<u8>) -> Result<(), ()> {
        let choices = event
            .get_mut("choices")
            .and_then(Value::as_array_mut)
            .map(std::mem::take)
            .unwrap_or_default();
        let mut kept = Vec::with_capacity(choices.len());
        for mut choice in choices {
            let id = choice
                .get("index")
                .and_then(Value::as_u64)
                .unwrap_or(0)
                .to_string();
            let mut text = String::new();
            if let Some(delta) = choice.pointer("/delta/content").and_then(Value::as_str) {
                text = self.pass(id.clone(), delta, out)?;
            }
            if choice.get("finish_reason").is_some_and(|r| !r.is_null()) {
                text.push_str(&self.end_part(&id, out)?);
            }
            if let Some(delta) = choice.get_mut("delta").and_then(Value::as_object_mut)
                && (delta.contains_key("content") || !text.is_empty())
            {
                delta.insert("content".into(), Value::String(text));
            }
            kept.push(choice);
        }
        event["choices"] = Value::Array(kept);
        write_event(out, None, &event);
        Ok(())
    }

    fn anthropic(&mut self, mut event: Value, out: &mut Vec<u8>) -> Result<(), ()> {
        let kind = event
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let id = event
            .get("index")
            .and_then(Value::as_u64)
            .unwrap_or(0)
            .to_string();
        match kind.as_str() {
            "content_block_delta" => {
                if let Some(text) = event.pointer("/delta/text").and_then(Value::as_str) {
                    let safe = self.pass(id, text, out)?;
                    event["delta"]["text"] = Value::String(safe);
                }
            }
            "content_block_stop" => {
                let rest = self.end_part(&id, out)?;
                if !rest.is_empty() {
                    let index = event.get("index").cloned().unwrap_or(json!(0));
                    let delta = json!({ "type": "content_block_delta", "index": index,
                        "delta": { "type": "text_delta", "text": rest } });
                    write_event(out, Some("content_block_delta"), &delta);
                }
            }
            _ => {}
        }
        write_event(out, Some(&kind), &event);
        Ok(())
    }

    fn responses(&mut self, mut event: Value, out: &mut Vec<u8>) -> Result<(), ()> {
        let kind = event
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let id = format!(
            "{}:{}",
            event
                .get("output_index")
                .and_then(Value::as_u64)
                .unwrap_or(0),
            event
                .get("content_index")
                .and_then(Value::as_u64)
                .unwrap_or(0)
        );
        match kind.as_str() {
            "response.output_text.delta" => {
                if let Some(text) = event.get("delta").and_then(Value::as_str) {
                    let safe = self.pass(id, text, out)?;
                    event["delta"] = Value::String(safe);
                }
            }
            "response.output_text.done" => {
                let rest = self.end_part(&id, out)?;
                if !rest.is_empty() {
                    let mut delta = event.clone();
                    delta["type"] = json!("response.output_text.delta");
                    delta["delta"] = Value::String(rest);
                    if let Some(obj) = delta.as_object_mut() {
                        obj.remove("text");
                    }
                    write_event(out, Some("response.output_text.delta"), &delta);
                }
                self.whole_texts(&mut event, out)?;
            }
            "response.content_part.done" | "response.output_item.done" | "response.completed" => {
                self.whole_texts(&mut event, out)?;
            }
            _ => {}
        }
        write_event(out, Some(&kind), &event);
        Ok(())
    }

    /// Checks every `text` string of an event whole (verdicts were counted on the deltas).
    fn whole_texts(&mut self, value: &mut Value, out: &mut Vec<u8>) -> Result<(), ()> {
        match value {
            Value::Object(map) => {
                for (k, v) in map.iter_mut() {
                    if k == "text"
                        && let Value::String(text) = v
                    {
                        match self.guards.check(GuardSide::Response, text) {
                            Ok(checked) => {
                                if let Some(new) = checked.text {
                                    *text = new;
                                }
                            }
                            Err(blocked) => {
                                self.block(&blocked, out);
                                return Err(());
                            }
                        }
                    } else {
                        self.whole_texts(v, out)?;
                    }
                }
                Ok(())
            }
            Value::Array(items) => items.iter_mut().try_for_each(|v| self.whole_texts(v, out)),
            _ => Ok(()),
        }
    }
}

impl EventTranslator for Guarded {
    fn lines(&mut self) -> &mut DataLines {
        &mut self.lines
    }

    fn on_data(&mut self, data: &[u8], out: &mut Vec<u8>) {
        if self.stopped {
            return;
        }
        let Ok(event) = serde_json::from_slice::<Value>(data) else {
            // `[DONE]` and anything else that is not JSON passes as it came.
            out.extend_from_slice(b"data: ");
            out.extend_from_slice(data);
            out.extend_from_slice(b"\n\n");
            return;
        };
        let _ = match self.format {
            Format::Anthropic => self.anthropic(event, out),
            Format::Responses => self.responses(event, out),
            Format::OpenAi | Format::Gemini => self.openai(event, out),
        };
    }

    fn on_end(&mut self, out: &mut Vec<u8>) {
        // Parts that never saw their end event: release what they hold, checked.
        let ids: Vec<String> = self.parts.keys().cloned().collect();
        for id in ids {
            if self.stopped {
                break;
            }
            let _ = self.end_part(&id, out);
        }
        if let Some(done) = self.done.take() {
            let _ = done.send(std::mem::take(&mut self.verdicts));
        }
    }
}
