//! Guardrails on JSON bodies: which strings carry text, and checking them in place.

use serde_json::Value;
use strata_config::{FailMode, GuardAction, GuardSide};

use super::compile::Engine;
use super::scan::Tally;
use super::webhook::Decision;
use super::{Blocked, Guards, Verdict, blocked, run_whole, verdict};

/// Keys whose strings are text (`output`: a Responses tool call's output).
const TEXT_KEYS: [&str; 11] = [
    "content",
    "text",
    "system",
    "input",
    "instructions",
    "prompt",
    "arguments",
    "query",
    "partial_json",
    "thinking",
    "output",
];

/// Keys never looked into: identifiers, media, tool definitions and settings.
const SKIP_KEYS: [&str; 22] = [
    "role",
    "type",
    "id",
    "model",
    "url",
    "image_url",
    "input_image",
    "input_audio",
    "data",
    "name",
    "tool_call_id",
    "call_id",
    "media_type",
    "source",
    "signature",
    "tools",
    "functions",
    "tool_choice",
    "response_format",
    "metadata",
    "cache_control",
    "usage",
];

/// The text strings of a body, in document order.
pub(crate) fn text_strings(body: &mut Value) -> Vec<&mut String> {
    let mut out = Vec::new();
    walk(body, &mut out);
    out
}

fn walk<'a>(v: &'a mut Value, out: &mut Vec<&'a mut String>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map.iter_mut() {
                let k = k.as_str();
                if SKIP_KEYS.contains(&k) {
                    continue;
                }
                if TEXT_KEYS.contains(&k) {
                    text(child, k == "input" || k == "arguments", out);
                } else {
                    walk(child, out);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| walk(i, out)),
        _ => {}
    }
}

/// A value under a text key: strings are text; objects are walked (tool inputs: all their
/// strings are text).
fn text<'a>(v: &'a mut Value, tool_input: bool, out: &mut Vec<&'a mut String>) {
    match v {
        Value::String(s) => out.push(s),
        Value::Array(items) => {
            for item in items {
                match item {
                    Value::Object(_) => walk(item, out),
                    _ => text(item, false, out),
                }
            }
        }
        Value::Object(_) if tool_input => all_strings(v, out),
        Value::Object(_) => walk(v, out),
        _ => {}
    }
}

fn all_strings<'a>(v: &'a mut Value, out: &mut Vec<&'a mut String>) {
    match v {
        Value::String(s) => out.push(s),
        Value::Array(items) => items.iter_mut().for_each(|i| all_strings(i, out)),
        Value::Object(map) => map.values_mut().for_each(|i| all_strings(i, out)),
        _ => {}
    }
}

impl Guards {
    /// Every text string of a request or response body (see the module docs) checked and
    /// rewritten in place, webhooks included. One verdict per guardrail that acted.
    pub async fn check_json(
        &self,
        side: GuardSide,
        body: &mut Value,
    ) -> Result<Vec<Verdict>, Blocked> {
        let mut verdicts = Vec::new();
        if !self.applies_to(side) {
            return Ok(verdicts);
        }
        let mut strings = text_strings(body);
        if strings.is_empty() {
            return Ok(verdicts);
        }
        let mut scratch = (Vec::new(), Vec::new());
        for g in self.list.iter().filter(|g| g.applies(side)) {
            match &g.engine {
                Engine::Local(local) => {
                    let mut total = Tally::default();
                    for s in &mut strings {
                        let mut tally = Tally::default();
                        let result = run_whole(g, local, s, &mut tally, &mut scratch);
                        total.merge(&tally);
                        match result {
                            Ok(Some(new)) => **s = new,
                            Ok(None) => {}
                            Err(reason) => return Err(blocked(g, side, reason, &total, verdicts)),
                        }
                    }
                    if total.fired {
                        verdicts.push(verdict(g, side, &total, g.action));
                    }
                }
                Engine::Webhook(hook) => {
                    let joined;
                    let text: &str = if let [one] = &strings[..] {
                        one
                    } else {
                        joined = strings
                            .iter()
                            .map(|s| s.as_str())
                            .collect::<Vec<_>>()
                            .join("\n\n");
                        &joined
                    };
                    let mut tally = Tally {
                        matches: 1,
                        fired: true,
                        ..Tally::default()
                    };
                    match hook.ask(&g.name, side, text).await {
                        Ok(Decision::Allow) => {}
                        Ok(Decision::Block(reason)) => {
                            let reason = reason.unwrap_or_else(|| "blocked by webhook".into());
                            return Err(blocked(g, side, reason, &tally, verdicts));
                        }
                        Ok(Decision::Replace(new)) => {
                            if let [one] = &mut strings[..] {
                                **one = new;
                                tally.reason = Some("replaced by the webhook".into());
                                verdicts.push(verdict(g, side, &tally, GuardAction::Redact));
                            } else {
                                tally.reason = Some(format!(
                                    "replacement ignored: the body has {} text strings",
                                    strings.len()
                                ));
                                verdicts.push(verdict(g, side, &tally, GuardAction::Flag));
                            }
                        }
                        Err(detail) => {
                            tracing::warn!(guardrail = %g.name, error = %detail, "webhook guardrail unavailable");
                            let reason = "webhook unavailable".to_string();
                            if hook.on_error == FailMode::Closed {
                                return Err(blocked(g, side, reason, &tally, verdicts));
                            }
                            tally.reason = Some(format!("{reason}; let through (on_error: open)"));
                            verdicts.push(verdict(g, side, &tally, GuardAction::Flag));
                        }
                    }
                }
            }
        }
        Ok(verdicts)
    }
}
