//! The context window of `llm` steps (a workflow's `context`): system prompts and the last
//! `keep_last` messages always go; the oldest others are dropped (`truncate_oldest`) or
//! replaced by a summary a model writes (`summarize`) until the messages fit `max_tokens`.

use serde_json::{Value, json};
use strata_config::{ContextWindow, WindowStrategy};

use crate::clients::{CallContext, CallError, ModelClient};

/// The estimated tokens of a message: one per 4 characters of content, plus 4.
#[must_use]
pub fn tokens(message: &Value) -> u64 {
    let chars = match &message["content"] {
        Value::String(s) => s.chars().count(),
        other => other.to_string().chars().count(),
    };
    (chars as u64).div_ceil(4) + 4
}

/// The policy as it rides in a journaled llm input (`context`).
#[must_use]
pub fn policy_json(w: &ContextWindow) -> Value {
    json!({
        "max_tokens": w.max_tokens,
        "strategy": match w.strategy { WindowStrategy::TruncateOldest => "truncate_oldest", WindowStrategy::Summarize => "summarize" },
        "keep_last": w.keep_last,
        "summary_model": w.summary_model,
    })
}

/// Puts `history` after the system prompts of `messages`.
#[must_use]
pub fn with_history(messages: &Value, history: &[Value]) -> Value {
    let all = messages.as_array().cloned().unwrap_or_default();
    let (system, rest): (Vec<Value>, Vec<Value>) =
        all.into_iter().partition(|m| m["role"] == "system");
    Value::Array(
        system
            .into_iter()
            .chain(history.iter().cloned())
            .chain(rest)
            .collect(),
    )
}

/// Splits `messages` into what fits (in order) and the oldest messages shed.
#[must_use]
pub fn fit(messages: &[Value], max_tokens: u64, keep_last: usize) -> (Vec<Value>, Vec<Value>) {
    let (system, rest): (Vec<&Value>, Vec<&Value>) =
        messages.iter().partition(|m| m["role"] == "system");
    let total: u64 = messages.iter().map(tokens).sum();
    let sheddable = rest.len().saturating_sub(keep_last);
    let mut over = total.saturating_sub(max_tokens);
    let mut shed = 0;
    while over > 0 && shed < sheddable {
        over = over.saturating_sub(tokens(rest[shed]));
        shed += 1;
    }
    let kept = system
        .into_iter()
        .chain(rest[shed..].iter().copied())
        .cloned()
        .collect();
    (kept, rest[..shed].iter().copied().cloned().collect())
}

/// Applies the `context` policy in an llm `body` (removing it); returns the body to send and
/// the summary call's record, when one was made.
pub async fn apply(
    mut body: Value,
    models: &dyn ModelClient,
    ctx: &CallContext,
) -> Result<(Value, Option<Value>), (CallError, Option<Value>)> {
    let Some(policy) = body.as_object_mut().and_then(|b| b.remove("context")) else {
        return Ok((body, None));
    };
    let max = policy["max_tokens"].as_u64().unwrap_or(u64::MAX);
    let keep = policy["keep_last"].as_u64().unwrap_or(4) as usize;
    let messages = body["messages"].as_array().cloned().unwrap_or_default();
    let (mut kept, shed) = fit(&messages, max, keep);
    let mut record = None;
    if !shed.is_empty() && policy["strategy"] == "summarize" {
        let model = policy["summary_model"]
            .as_str()
            .map_or_else(|| body["model"].clone(), |m| json!(m));
        let request = json!({
            "model": model,
            "messages": [
                { "role": "system", "content": "Summarize this conversation in a few sentences. Keep names, numbers, decisions and open questions." },
                { "role": "user", "content": shed.iter().map(|m| format!("{}: {}", m["role"].as_str().unwrap_or("user"), m["content"].as_str().map_or_else(|| m["content"].to_string(), str::to_string))).collect::<Vec<_>>().join("\n") },
            ],
        });
        let called = models.chat(request, ctx).await;
        match called.result {
            Ok(summary) => {
                let text = summary
                    .as_str()
                    .map_or_else(|| summary.to_string(), str::to_string);
                let at = kept.iter().take_while(|m| m["role"] == "system").count();
                kept.insert(at, json!({ "role": "system", "content": format!("Summary of the earlier conversation: {text}") }));
                record = Some(called.record);
            }
            Err(e) => return Err((e, Some(called.record))),
        }
    }
    body["messages"] = Value::Array(kept);
    Ok((body, record))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(role: &str, n: usize) -> Value {
        json!({ "role": role, "content": "x".repeat(n) })
    }

    #[test]
    fn the_oldest_go_first_and_system_prompts_and_the_last_turns_stay() {
        // 12 tokens each (32 chars → 8, +4).
        let msgs = vec![
            m("system", 32),
            m("user", 32),
            m("assistant", 32),
            m("user", 32),
            m("assistant", 32),
        ];
        let (kept, shed) = fit(&msgs, 36, 2);
        assert_eq!(
            kept,
            vec![msgs[0].clone(), msgs[3].clone(), msgs[4].clone()]
        );
        assert_eq!(shed, vec![msgs[1].clone(), msgs[2].clone()]);
        // Whatever the budget, the system prompt and the last two stay.
        let (kept, _) = fit(&msgs, 1, 2);
        assert_eq!(kept.len(), 3);
        // Within the budget nothing goes.
        assert_eq!(fit(&msgs, 1_000, 2).0, msgs);
        let h = with_history(&json!([m("system", 1), m("user", 2)]), &[m("assistant", 3)]);
        assert_eq!(h, json!([m("system", 1), m("assistant", 3), m("user", 2)]));
    }
}
