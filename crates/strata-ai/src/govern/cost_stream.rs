//! The cost of a streamed call, in the stream. Headers leave before the answer exists, so a
//! stream cannot carry `x-strata-cost-usd`; instead the event that reports the call's usage
//! (OpenAI's final usage chunk when the client asked for it with
//! `stream_options.include_usage`, Anthropic's `message_delta`, the Responses API's
//! `response.completed`) gets `cost_usd` beside the token counts. From that event on, events
//! are held until the upstream has finished and its usage is priced; everything before it
//! streams as it arrives.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use futures_util::future::BoxFuture;
use serde_json::Value;
use tokio::sync::oneshot;

use crate::accounting::Served;
use crate::convert::Format;
use crate::pricing::{Prices, usd};

struct Stamp {
    held: Vec<Vec<u8>>,
    usage: Option<oneshot::Receiver<Served>>,
    prices: Arc<Prices>,
    format: Format,
    /// Drop the usage the client did not ask for (it was asked of the provider for the ledger).
    strip: bool,
    forward: Option<oneshot::Sender<Served>>,
}

/// `body` with the cost written into its usage event; the call's usage, passed on.
pub fn stamp(
    body: Body,
    format: Format,
    usage: oneshot::Receiver<Served>,
    prices: Arc<Prices>,
    strip: bool,
) -> (Body, oneshot::Receiver<Served>) {
    let (forward, served) = oneshot::channel();
    let state = Stamp {
        held: Vec::new(),
        usage: Some(usage),
        prices,
        format,
        strip,
        forward: Some(forward),
    };
    (super::sse_stage::run(body, state), served)
}

impl Drop for Stamp {
    /// A client that hangs up mid-answer: the answer, dropped first, has reported its usage,
    /// which goes on to the ledger as it would have.
    fn drop(&mut self) {
        if let (Some(mut rx), Some(tx)) = (self.usage.take(), self.forward.take())
            && let Ok(served) = rx.try_recv()
        {
            let _ = tx.send(served);
        }
    }
}

impl super::sse_stage::Stage for Stamp {
    /// Passes on events until the first that reports usage; holds that one and the rest.
    fn event(&mut self, event: Vec<u8>, out: &mut Vec<u8>) {
        if !self.held.is_empty() || reports_usage(self.format, &event) {
            self.held.push(event);
        } else {
            out.extend_from_slice(&event);
        }
    }

    /// The held events, the first usage object among them priced (or dropped).
    fn end(&mut self, rest: Vec<u8>) -> BoxFuture<'_, Vec<u8>> {
        Box::pin(async move {
            let served = match self.usage.take() {
                Some(rx) => tokio::time::timeout(Duration::from_secs(5), rx)
                    .await
                    .ok()
                    .and_then(Result::ok),
                None => None,
            };
            let cost = served.as_ref().and_then(|s| {
                s.tokens
                    .map(|t| Prices::cost_micros(self.prices.price(&s.provider, &s.model), t))
            });
            let mut out = Vec::new();
            let mut first = true;
            for event in std::mem::take(&mut self.held) {
                let changed = match (std::mem::take(&mut first), self.strip, cost) {
                    (true, true, _) => Some(without_usage(&event).unwrap_or_default()),
                    (true, false, Some(c)) => with_cost(&event, c),
                    _ => None,
                };
                out.extend_from_slice(changed.as_deref().unwrap_or(&event));
            }
            out.extend_from_slice(&rest);
            if let (Some(s), Some(tx)) = (served, self.forward.take()) {
                let _ = tx.send(s);
            }
            out
        })
    }
}

/// Whether `event` is the one that reports the call's usage (not merely mentions it, as
/// Anthropic's `message_start` and OpenAI's `"usage": null` chunks do).
fn reports_usage(format: Format, event: &[u8]) -> bool {
    let has = |needle: &[u8]| event.windows(needle.len()).any(|w| w == needle);
    match format {
        Format::OpenAi | Format::Gemini => has(b"\"usage\":{") || has(b"\"usage\": {"),
        Format::Anthropic => has(b"message_delta"),
        Format::Responses => has(b"response.completed"),
    }
}

/// An OpenAI chunk without the usage the client did not ask for: nothing when it carried
/// only usage, the chunk without its `usage` otherwise.
fn without_usage(event: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(event).ok()?;
    let data = text.trim().strip_prefix("data:")?.trim();
    let mut json: Value = serde_json::from_str(data).ok()?;
    let only_usage = json["choices"].as_array().is_none_or(Vec::is_empty);
    if only_usage {
        return None;
    }
    json.as_object_mut()?.remove("usage");
    Some(format!("data: {json}\n\n").into_bytes())
}

/// `event` (SSE) with `cost_usd` in its usage object (`usage` or `response.usage`).
fn with_cost(event: &[u8], micros: i64) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(event).ok()?;
    let mut out = String::new();
    let mut done = false;
    for line in text.split_inclusive('\n') {
        let Some(data) = line
            .strip_prefix("data: ")
            .or_else(|| line.strip_prefix("data:"))
        else {
            out.push_str(line);
            continue;
        };
        let mut json: Value = match serde_json::from_str(data.trim()) {
            Ok(v) => v,
            Err(_) => {
                out.push_str(line);
                continue;
            }
        };
        let usage = if json.get("usage").is_some_and(Value::is_object) {
            json.get_mut("usage")
        } else {
            json.pointer_mut("/response/usage")
                .filter(|u| u.is_object())
        };
        match usage {
            Some(u) => {
                u["cost_usd"] = Value::from(usd(micros));
                out.push_str("data: ");
                out.push_str(&json.to_string());
                out.push('\n');
                done = true;
            }
            None => out.push_str(line),
        }
    }
    done.then(|| out.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_usage_object_gets_the_cost() {
        let openai = b"data: {\"choices\":[],\"usage\":{\"prompt_tokens\":3}}\n\n";
        let out = String::from_utf8(with_cost(openai, 1_500).unwrap()).unwrap();
        let json: Value = serde_json::from_str(out.trim().strip_prefix("data: ").unwrap()).unwrap();
        assert_eq!(json["usage"]["cost_usd"], 0.0015);
        assert_eq!(json["usage"]["prompt_tokens"], 3);
        let responses =
            b"event: response.completed\ndata: {\"response\":{\"usage\":{\"input_tokens\":1}}}\n\n";
        let out = String::from_utf8(with_cost(responses, 2).unwrap()).unwrap();
        let data = out
            .strip_prefix("event: response.completed\ndata: ")
            .unwrap();
        let json: Value = serde_json::from_str(data.trim()).unwrap();
        assert_eq!(json["response"]["usage"]["cost_usd"], 0.000_002);
        assert!(with_cost(b"data: [DONE]\n\n", 1).is_none());
        assert!(without_usage(openai).is_none());
        let both = b"data: {\"choices\":[{\"delta\":{}}],\"usage\":{\"prompt_tokens\":3}}\n\n";
        let kept = String::from_utf8(without_usage(both).unwrap()).unwrap();
        assert!(
            kept.contains("choices") && !kept.contains("usage"),
            "{kept}"
        );
        assert!(reports_usage(
            Format::Anthropic,
            b"event: message_delta\ndata: {\"usage\":{\"output_tokens\":5}}\n\n"
        ));
        assert!(!reports_usage(
            Format::Anthropic,
            b"event: message_start\ndata: {\"message\":{\"usage\":{}}}\n\n"
        ));
        assert!(!reports_usage(
            Format::OpenAi,
            b"data: {\"choices\":[],\"usage\":null}\n\n"
        ));
    }
}
