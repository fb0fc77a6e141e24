//! Reading what a remote agent answered (a task, a message, or stream events; 1.0 or 0.3
//! shapes) into the step's output or error.

use serde_json::{Value, json};

use crate::clients::CallError;

/// What the agent has said so far.
#[derive(Debug, Default)]
pub(super) struct Reply {
    pub task_id: Option<String>,
    pub context_id: Option<String>,
    /// The task state in 1.0 form (`TASK_STATE_COMPLETED`), or `MESSAGE` for a direct message.
    pub state: Option<String>,
    status_parts: Vec<Value>,
    artifacts: Vec<(String, Vec<Value>)>,
}

/// A state in 1.0 form, from either version.
fn state_name(s: &str) -> String {
    if s.starts_with("TASK_STATE_") {
        s.to_string()
    } else {
        format!("TASK_STATE_{}", s.replace('-', "_").to_ascii_uppercase())
    }
}

impl Reply {
    /// A JSON-RPC response (or one stream event).
    pub fn absorb_rpc(&mut self, rpc: &Value) -> Result<(), CallError> {
        if let Some(e) = rpc.get("error") {
            let code = e.get("code").and_then(Value::as_i64).unwrap_or(0);
            let message = e.get("message").and_then(Value::as_str).unwrap_or("error");
            let class = match code {
                -32001 => "not_found",
                -32600 | -32602 | -32004 | -32005 | -32009 => "bad_request",
                _ => "unavailable",
            };
            return Err(CallError {
                class,
                message: format!("agent error {code}: {message}"),
                response: Some(e.clone()),
            });
        }
        let Some(result) = rpc.get("result") else {
            return Err(CallError::new(
                "unavailable",
                "the agent's answer has no result",
            ));
        };
        self.absorb(result);
        Ok(())
    }

    /// One result object: `{task}`, `{message}`, `{statusUpdate}`, `{artifactUpdate}` (1.0),
    /// or the object itself with a `kind` (0.3).
    fn absorb(&mut self, result: &Value) {
        let kind = result.get("kind").and_then(Value::as_str);
        let (kind, body) = match kind {
            Some(k) => (k.to_string(), result),
            None => {
                let Some((k, v)) = result.as_object().and_then(|o| o.iter().next()) else {
                    return;
                };
                (k.clone(), v)
            }
        };
        match kind.as_str() {
            "task" => {
                self.ids(body, "id");
                self.status(body.get("status"));
                for a in body
                    .get("artifacts")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    self.artifact(a, false);
                }
            }
            "message" => {
                self.state = Some("MESSAGE".into());
                self.status_parts = parts(body);
            }
            "statusUpdate" | "status-update" => {
                self.ids(body, "taskId");
                self.status(body.get("status"));
            }
            "artifactUpdate" | "artifact-update" => {
                self.ids(body, "taskId");
                let append = body.get("append").and_then(Value::as_bool).unwrap_or(false);
                if let Some(a) = body.get("artifact") {
                    self.artifact(a, append);
                }
            }
            _ => {}
        }
    }

    fn ids(&mut self, body: &Value, id: &str) {
        if let Some(t) = body.get(id).and_then(Value::as_str) {
            self.task_id = Some(t.to_string());
        }
        if let Some(c) = body.get("contextId").and_then(Value::as_str) {
            self.context_id = Some(c.to_string());
        }
    }

    fn status(&mut self, status: Option<&Value>) {
        let Some(status) = status else { return };
        if let Some(s) = status.get("state").and_then(Value::as_str) {
            self.state = Some(state_name(s));
        }
        if let Some(m) = status.get("message") {
            self.status_parts = parts(m);
        }
    }

    fn artifact(&mut self, a: &Value, append: bool) {
        let id = a
            .get("artifactId")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let new = parts(a);
        match self.artifacts.iter_mut().find(|(i, _)| *i == id) {
            Some((_, existing)) if append => existing.extend(new),
            Some((_, existing)) => *existing = new,
            None => self.artifacts.push((id, new)),
        }
    }

    /// The task is neither finished nor waiting for anything: ask again.
    pub fn pending(&self) -> bool {
        self.task_id.is_some()
            && matches!(
                self.state.as_deref(),
                Some("TASK_STATE_SUBMITTED" | "TASK_STATE_WORKING") | None
            )
    }

    /// The step's output (the artifacts' parts, else the last message's) or why it failed.
    pub fn outcome(&self) -> Result<Value, CallError> {
        let said = || value_of(&self.status_parts);
        match self.state.as_deref() {
            Some("TASK_STATE_COMPLETED") => {
                let all: Vec<Value> = self.artifacts.iter().flat_map(|(_, p)| p.clone()).collect();
                Ok(if all.is_empty() {
                    said()
                } else {
                    value_of(&all)
                })
            }
            Some("MESSAGE") => Ok(said()),
            Some("TASK_STATE_INPUT_REQUIRED" | "TASK_STATE_AUTH_REQUIRED") => Err(CallError {
                class: "input_required",
                message: format!("the agent asks: {}", text(&said())),
                response: Some(json!({ "task_id": self.task_id, "state": self.state })),
            }),
            Some(state) => Err(CallError {
                class: "agent_failed",
                message: format!("the agent's task ended {state}: {}", text(&said())),
                response: Some(json!({ "task_id": self.task_id, "state": state })),
            }),
            None => Err(CallError::new("unavailable", "the agent answered no task")),
        }
    }
}

fn parts(obj: &Value) -> Vec<Value> {
    obj.get("parts")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// Parts as one value: the text when all are text, the data of a single data part, else the list.
fn value_of(parts: &[Value]) -> Value {
    let texts: Vec<&str> = parts
        .iter()
        .filter_map(|p| p.get("text").and_then(Value::as_str))
        .collect();
    if !parts.is_empty() && texts.len() == parts.len() {
        return Value::String(texts.join("\n"));
    }
    if let [one] = parts
        && let Some(d) = one.get("data")
    {
        return d.clone();
    }
    Value::Array(parts.to_vec())
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tasks_streams_and_messages_of_both_versions_become_outputs() {
        let mut r = Reply::default();
        r.absorb_rpc(&json!({ "result": { "task": { "id": "t", "contextId": "c",
            "status": { "state": "TASK_STATE_COMPLETED" },
            "artifacts": [{ "artifactId": "a", "parts": [{ "text": "hello" }] }] } } }))
            .unwrap();
        assert_eq!(r.outcome().unwrap(), json!("hello"));

        let mut r = Reply::default();
        for e in [
            json!({ "result": { "kind": "task", "id": "t", "status": { "state": "submitted" } } }),
            json!({ "result": { "kind": "artifact-update", "taskId": "t", "artifact": { "artifactId": "a", "parts": [{ "kind": "text", "text": "a" }] } } }),
            json!({ "result": { "kind": "artifact-update", "taskId": "t", "append": true, "artifact": { "artifactId": "a", "parts": [{ "kind": "text", "text": "b" }] } } }),
            json!({ "result": { "kind": "status-update", "taskId": "t", "status": { "state": "completed" }, "final": true } }),
        ] {
            r.absorb_rpc(&e).unwrap();
        }
        assert!(!r.pending());
        assert_eq!(r.outcome().unwrap(), json!("a\nb"));

        let mut r = Reply::default();
        r.absorb_rpc(&json!({ "result": { "message": { "parts": [{ "data": { "n": 1 } }] } } }))
            .unwrap();
        assert_eq!(r.outcome().unwrap(), json!({ "n": 1 }));

        let mut r = Reply::default();
        r.absorb_rpc(&json!({ "result": { "task": { "id": "t", "status": { "state": "TASK_STATE_INPUT_REQUIRED",
            "message": { "parts": [{ "text": "Which?" }] } } } } })).unwrap();
        let e = r.outcome().unwrap_err();
        assert_eq!(
            (e.class, e.message.as_str()),
            ("input_required", "the agent asks: Which?")
        );

        let e = Reply::default()
            .absorb_rpc(&json!({ "error": { "code": -32001, "message": "no" } }))
            .unwrap_err();
        assert_eq!(e.class, "not_found");
    }
}
