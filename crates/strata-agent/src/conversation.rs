//! A session's conversation: every run's messages in (as stored, or the run's input when it
//! was started without one) and its answers out (prompts of `human` steps, the final output),
//! in order. The sessions API shows it; `llm` steps of a workflow with a context window see
//! the earlier turns.

use serde_json::{Value, json};
use strata_store::{RunQuery, Store, StoreError};

use crate::a2a::task;

/// One message of the conversation, in the A2A 1.0 shape, with its time.
#[derive(Debug, Clone, PartialEq)]
pub struct Turn {
    pub ts_ms: i64,
    pub message: Value,
}

impl Turn {
    /// As a chat message (`user` or `assistant`, text content).
    #[must_use]
    pub fn chat(&self) -> Value {
        let role = match self.message["role"].as_str() {
            Some("ROLE_AGENT") => "assistant",
            _ => "user",
        };
        let parts = self.message["parts"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let text: Vec<String> = parts
            .iter()
            .map(|p| match (p.get("text"), p.get("data")) {
                (Some(Value::String(t)), _) => t.clone(),
                (_, Some(d)) => d.to_string(),
                _ => String::new(),
            })
            .collect();
        json!({ "role": role, "content": text.join("\n") })
    }
}

/// The conversation of `session`, up to (not including) run `before` when given.
pub async fn turns(
    store: &Store,
    session: &str,
    before: Option<&str>,
) -> Result<Vec<Turn>, StoreError> {
    let mut runs = store
        .runs(&RunQuery {
            session_id: Some(session.to_string()),
            limit: 10_000,
            ..RunQuery::default()
        })
        .await?;
    runs.reverse();
    let stored = store.messages(session, None).await?;
    let mut out = Vec::new();
    for row in &runs {
        if before == Some(row.id.as_str()) {
            break;
        }
        let mut mine: Vec<Turn> = stored
            .iter()
            .filter(|m| m.run_id.as_deref() == Some(row.id.as_str()))
            .filter_map(|m| {
                let mut v: Value = serde_json::from_str(&m.content).ok()?;
                v["taskId"] = json!(row.id);
                v["contextId"] = json!(session);
                Some(Turn {
                    ts_ms: m.ts_ms,
                    message: v,
                })
            })
            .collect();
        if mine.is_empty() {
            mine.push(Turn {
                ts_ms: row.created_ms,
                message: input_message(&row.id, session, &row.input),
            });
        }
        let events = store.run_events(&row.id, 0, i64::MAX).await?;
        let tracker = task::fold(row, &events);
        mine.extend(tracker.said.iter().map(|(ts, m)| Turn {
            ts_ms: *ts,
            message: m.clone(),
        }));
        mine.sort_by_key(|t| t.ts_ms);
        out.extend(mine);
    }
    Ok(out)
}

/// A run's input as the user message that started it.
fn input_message(run: &str, session: &str, input: &str) -> Value {
    let input: Value = serde_json::from_str(input).unwrap_or(Value::Null);
    let part = match input.get("message") {
        Some(Value::String(t)) => json!({ "text": t }),
        _ => json!({ "data": input }),
    };
    json!({ "messageId": format!("{run}-input"), "role": "ROLE_USER", "parts": [part],
        "taskId": run, "contextId": session })
}
