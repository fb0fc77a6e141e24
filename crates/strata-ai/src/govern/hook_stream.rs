//! Webhook guardrails on a streamed answer. A webhook cannot approve text that does not exist
//! yet, and holding the whole stream back would undo streaming, so the text passes on as it
//! arrives (the local guardrails have already checked it, piece by piece) and only the
//! stream's final event (`[DONE]`, `message_stop`, `response.completed`) is held until the
//! webhooks have judged the whole text. Approved, the final event goes out; blocked, the
//! stream ends with the client's error event instead, so no SDK reports the answer complete.
//! A webhook's `replace` cannot take back text already sent: it is recorded, not applied.

use axum::body::{Body, Bytes};
use futures_util::StreamExt;
use serde_json::{Value, json};
use strata_config::GuardSide;
use strata_policy::guard::{Guards, Verdict};
use tokio::sync::oneshot;

use crate::convert::Format;

struct Hold {
    chunks: axum::body::BodyDataStream,
    hooks: Guards,
    format: Format,
    pending: Vec<u8>,
    text: String,
    held: Vec<u8>,
    done: Option<oneshot::Sender<Vec<Verdict>>>,
    ended: bool,
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
        chunks: body.into_data_stream(),
        hooks,
        format,
        pending: Vec::new(),
        text: String::new(),
        held: Vec::new(),
        done: Some(done),
        ended: false,
    };
    let stream = futures_util::stream::unfold(hold, |mut h| async move {
        loop {
            if h.ended {
                return None;
            }
            match h.chunks.next().await {
                Some(Ok(chunk)) => {
                    h.pending.extend_from_slice(&chunk);
                    let out = h.split();
                    if !out.is_empty() {
                        return Some((Ok::<Bytes, axum::Error>(out.into()), h));
                    }
                }
                Some(Err(e)) => {
                    h.ended = true;
                    return Some((Err(e), h));
                }
                None => {
                    h.ended = true;
                    let out = h.judge().await;
                    return Some((Ok(out.into()), h));
                }
            }
        }
    });
    (Body::from_stream(stream), verdicts)
}

impl Hold {
    /// Passes on every whole event in `pending` but the final one, noting the text.
    fn split(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        while let Some(end) = self.pending.windows(2).position(|w| w == b"\n\n") {
            let event: Vec<u8> = self.pending.drain(..end + 2).collect();
            let (name, data) = parse(&event);
            if self.is_final(name.as_deref(), &data) {
                self.held.extend_from_slice(&event);
            } else {
                self.note(name.as_deref(), &data);
                out.extend_from_slice(&event);
            }
        }
        out
    }

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
    fn note(&mut self, _name: Option<&str>, data: &str) {
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

    /// Asks the webhooks about the whole text; the held end, or the error event.
    async fn judge(&mut self) -> Vec<u8> {
        let mut out = std::mem::take(&mut self.pending);
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
