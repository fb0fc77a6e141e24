//! Webhook guardrails on a streamed answer. A webhook cannot approve text that does not exist
//! yet, and holding the whole stream back would undo streaming, so the text passes on as it
//! arrives (the local guardrails have already checked it, piece by piece) and only the
//! stream's final event (`[DONE]`, `message_stop`, `response.completed`) is held until the
//! webhooks have judged the whole text. Approved, the final event goes out; blocked, the
//! stream ends with the client's error event instead, so no SDK reports the answer complete.
//! A webhook's `replace` cannot take back text already sent: it is recorded, not applied.

use axum::body::Body;
use futures_util::future::BoxFuture;
use serde_json::{Value, json};
use strata_config::GuardSide;
use strata_policy::guard::{Guards, Verdict};
use tokio::sync::oneshot;

use crate::convert::Format;

struct Hold {
    hooks: Guards,
    format: Format,
    text: String,
    held: Vec<u8>,
    done: Option<oneshot::Sender<Vec<Verdict>>>,
}

/// `body` with its final event held until `hooks` approved the answer's whole text; the
/// verdicts once judged.
pub fn hold_end(
    body: Body,
    hooks: Guards,
    format: Format,
) -> (Body, oneshot::Receiver<Vec<Verdict>>) {
    let (done, verdicts) = oneshot::channel();
    let hold = Hold {
        hooks,
        format,
        text: String::new(),
        held: Vec::new(),
        done: Some(done),
    };
    (super::sse_stage::run(body, hold), verdicts)
}

impl super::sse_stage::Stage for Hold {
    /// Passes on every event but the final one, noting the text.
    fn event(&mut self, event: Vec<u8>, out: &mut Vec<u8>) {
        let (name, data) = parse(&event);
        if self.is_final(name.as_deref(), &data) {
            self.held.extend_from_slice(&event);
        } else {
            self.note(&data);
            out.extend_from_slice(&event);
        }
    }

    /// Asks the webhooks about the whole text; the held end, or the error event.
    fn end(&mut self, rest: Vec<u8>) -> BoxFuture<'_, Vec<u8>> {
        Box::pin(async move {
            let mut out = rest;
            let mut body = json!({ "content": self.text });
            let verdicts = match self.hooks.check_json(GuardSide::Response, &mut body).await {
                Ok(verdicts) => {
                    out.append(&mut self.held);
                    verdicts
                }
                Err(blocked) => {
                    super::stream::blocked_event(self.format, &blocked, &mut out);
                    blocked.verdicts
                }
            };
            if let Some(done) = self.done.take() {
                let _ = done.send(verdicts);
            }
            out
        })
    }
}

impl Hold {
    fn is_final(&self, name: Option<&str>, data: &str) -> bool {
        match self.format {
            Format::OpenAi | Format::Gemini => data.trim() == "[DONE]",
            Format::Anthropic => {
                name == Some("message_stop") || data.contains("\"type\":\"message_stop\"")
            }
            Format::Responses => {
                name == Some("response.completed")
                    || data.contains("\"type\":\"response.completed\"")
            }
        }
    }

    /// Adds an event's text deltas to the answer's text.
    fn note(&mut self, data: &str) {
        let Ok(event) = serde_json::from_str::<Value>(data) else {
            return;
        };
        match self.format {
            Format::OpenAi | Format::Gemini => {
                for choice in event["choices"].as_array().into_iter().flatten() {
                    if let Some(t) = choice.pointer("/delta/content").and_then(Value::as_str) {
                        self.text.push_str(t);
                    }
                }
            }
            Format::Anthropic => {
                if let Some(t) = event.pointer("/delta/text").and_then(Value::as_str) {
                    self.text.push_str(t);
                }
            }
            Format::Responses => {
                if event["type"] == "response.output_text.delta"
                    && let Some(t) = event["delta"].as_str()
                {
                    self.text.push_str(t);
                }
            }
        }
    }
}

/// An SSE event's name and joined data lines.
fn parse(event: &[u8]) -> (Option<String>, String) {
    let text = String::from_utf8_lossy(event);
    let mut name = None;
    let mut data = Vec::new();
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("event:") {
            name = Some(v.trim().to_string());
        } else if let Some(v) = line.strip_prefix("data:") {
            data.push(v.strip_prefix(' ').unwrap_or(v));
        }
    }
    (name, data.join("\n"))
}
