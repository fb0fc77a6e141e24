//! The A2A wire: protocol versions, incoming messages, and what goes out in the 1.0 ProtoJSON
//! shape (camelCase, `TASK_STATE_*` enums, member-based `oneof`) or converted to 0.3 (kebab-case
//! states, `kind` discriminators).

use http::HeaderMap;
use serde_json::{Map, Value, json};

use super::error::A2aError;

/// The protocol version a request speaks (`A2A-Version`; none means 0.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V03,
    V10,
}

impl Version {
    /// From the request's `A2A-Version` header.
    pub fn of(headers: &HeaderMap) -> Result<Self, A2aError> {
        let Some(value) = headers.get("a2a-version") else {
            return Ok(Version::V03);
        };
        let text = value.to_str().unwrap_or("").trim();
        let mut parts = text.split('.');
        match (parts.next(), parts.next()) {
            (Some(""), None) => Ok(Version::V03),
            (Some("1"), None | Some("0")) => Ok(Version::V10),
            (Some("0"), Some("3")) => Ok(Version::V03),
            _ => Err(A2aError::VersionNotSupported(text.to_string())),
        }
    }
}

/// A task state (1.0 names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Submitted,
    Working,
    InputRequired,
    Completed,
    Failed,
    Canceled,
}

impl State {
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            State::Submitted => "TASK_STATE_SUBMITTED",
            State::Working => "TASK_STATE_WORKING",
            State::InputRequired => "TASK_STATE_INPUT_REQUIRED",
            State::Completed => "TASK_STATE_COMPLETED",
            State::Failed => "TASK_STATE_FAILED",
            State::Canceled => "TASK_STATE_CANCELED",
        }
    }

    /// From a 1.0 or 0.3 name.
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        let key = name
            .trim_start_matches("TASK_STATE_")
            .to_ascii_lowercase()
            .replace('_', "-");
        Some(match key.as_str() {
            "submitted" => State::Submitted,
            "working" => State::Working,
            "input-required" => State::InputRequired,
            "completed" => State::Completed,
            "failed" => State::Failed,
            "canceled" | "cancelled" => State::Canceled,
            _ => return None,
        })
    }

    /// Completed, failed or canceled: the task never changes again.
    #[must_use]
    pub fn terminal(self) -> bool {
        matches!(self, State::Completed | State::Failed | State::Canceled)
    }

    /// Where a blocking send or a stream stops: a terminal or interrupted state.
    #[must_use]
    pub fn settled(self) -> bool {
        self.terminal() || self == State::InputRequired
    }
}

/// A message a client sent.
#[derive(Debug, Clone)]
pub struct Inbound {
    pub message_id: String,
    pub context_id: Option<String>,
    pub task_id: Option<String>,
    pub text: String,
    pub data: Option<Value>,
    /// As received, in the 1.0 shape (kept in the session's history).
    pub message: Value,
}

impl Inbound {
    /// Reads `message` (1.0 or 0.3 shape).
    pub fn parse(message: &Value) -> Result<Self, A2aError> {
        let obj = message
            .as_object()
            .ok_or_else(|| A2aError::InvalidParams("message: expected an object".into()))?;
        let s = |k: &str| obj.get(k).and_then(Value::as_str).filter(|v| !v.is_empty());
        let message_id = s("messageId")
            .ok_or_else(|| A2aError::InvalidParams("message.messageId is required".into()))?
            .to_string();
        match s("role") {
            Some("ROLE_USER" | "user") => {}
            other => {
                return Err(A2aError::InvalidParams(format!(
                    "message.role must be ROLE_USER, found {}",
                    other.unwrap_or("nothing")
                )));
            }
        }
        let parts = obj
            .get("parts")
            .and_then(Value::as_array)
            .filter(|p| !p.is_empty())
            .ok_or_else(|| A2aError::InvalidParams("message.parts must not be empty".into()))?;
        let mut text = Vec::new();
        let mut data = None;
        let mut out_parts = Vec::new();
        for (i, part) in parts.iter().enumerate() {
            if let Some(t) = part.get("text").and_then(Value::as_str) {
                text.push(t.to_string());
                out_parts.push(json!({ "text": t }));
            } else if let Some(d) = part.get("data") {
                data.get_or_insert_with(|| d.clone());
                out_parts.push(json!({ "data": d }));
            } else {
                return Err(A2aError::ContentType(format!(
                    "message.parts[{i}]: this agent accepts text and data parts"
                )));
            }
        }
        let context_id = s("contextId").map(str::to_string);
        let task_id = s("taskId").map(str::to_string);
        let mut normal =
            json!({ "messageId": message_id, "role": "ROLE_USER", "parts": out_parts });
        if let Some(m) = obj.get("metadata") {
            normal["metadata"] = m.clone();
        }
        Ok(Self {
            message_id,
            context_id,
            task_id,
            text: text.join("\n"),
            data,
            message: normal,
        })
    }

    /// The input of a new run: a data object alone as it is, otherwise `{ "message": text }`
    /// (with `data` beside it when the message carried both).
    #[must_use]
    pub fn run_input(&self) -> Value {
        match (&self.data, self.text.is_empty()) {
            (Some(d @ Value::Object(_)), true) => d.clone(),
            (Some(d), _) => json!({ "message": self.text, "data": d }),
            (None, _) => json!({ "message": self.text }),
        }
    }

    /// What a waiting `human` step receives: the text, the data, or both.
    #[must_use]
    pub fn reply(&self) -> Value {
        match (&self.data, self.text.is_empty()) {
            (Some(d), true) => d.clone(),
            (Some(d), false) => json!({ "message": self.text, "data": d }),
            (None, _) => Value::String(self.text.clone()),
        }
    }
}

/// A value as message parts: text for a string, data otherwise.
#[must_use]
pub fn parts_of(value: &Value) -> Value {
    match value {
        Value::String(s) => json!([{ "text": s }]),
        Value::Null => json!([]),
        other => json!([{ "data": other }]),
    }
}

/// An agent message.
#[must_use]
pub fn agent_message(id: &str, task: &str, context: &str, parts: &Value) -> Value {
    json!({ "messageId": id, "role": "ROLE_AGENT", "parts": parts, "taskId": task, "contextId": context })
}

/// Milliseconds since the epoch as ISO 8601 UTC with milliseconds.
#[must_use]
pub fn timestamp(ms: i64) -> String {
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64);
    humantime::format_rfc3339_millis(at).to_string()
}

/// A 1.0 object converted to 0.3: `kind` discriminators, lowercase roles and states.
/// `kind` names what `value` is: `task`, `message`, `status-update` or `artifact-update`.
#[must_use]
pub fn to_v03(kind: &str, value: &Value) -> Value {
    let Value::Object(obj) = value else {
        return value.clone();
    };
    let mut out = Map::new();
    out.insert("kind".into(), json!(kind));
    for (k, v) in obj {
        let v = match (kind, k.as_str()) {
            (_, "status") => status_v03(v),
            ("task", "history") => list(v, |m| to_v03("message", m)),
            ("task", "artifacts") => list(v, artifact_v03),
            ("artifact-update", "artifact") => artifact_v03(v),
            ("message", "role") => json!(match v.as_str() {
                Some("ROLE_AGENT") => "agent",
                _ => "user",
            }),
            ("message", "parts") => list(v, part_v03),
            _ => v.clone(),
        };
        out.insert(k.clone(), v);
    }
    if kind == "status-update" {
        let state = obj
            .get("status")
            .and_then(|s| s.get("state"))
            .and_then(Value::as_str)
            .and_then(State::parse);
        out.insert("final".into(), json!(state.is_some_and(State::settled)));
    }
    Value::Object(out)
}

fn list(v: &Value, f: impl Fn(&Value) -> Value) -> Value {
    match v {
        Value::Array(items) => Value::Array(items.iter().map(f).collect()),
        other => other.clone(),
    }
}

fn status_v03(status: &Value) -> Value {
    let mut s = status.clone();
    if let Some(state) = status.get("state").and_then(Value::as_str) {
        let name = state.trim_start_matches("TASK_STATE_").to_ascii_lowercase();
        s["state"] = json!(name.replace('_', "-"));
    }
    if let Some(m) = status.get("message") {
        s["message"] = to_v03("message", m);
    }
    s
}

fn artifact_v03(a: &Value) -> Value {
    let mut a = a.clone();
    if let Some(parts) = a.get("parts") {
        a["parts"] = list(parts, part_v03);
    }
    a
}

fn part_v03(p: &Value) -> Value {
    if let Some(t) = p.get("text") {
        return json!({ "kind": "text", "text": t });
    }
    match p.get("data") {
        Some(d @ Value::Object(_)) => json!({ "kind": "data", "data": d }),
        Some(d) => json!({ "kind": "data", "data": { "value": d } }),
        None => p.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_follow_the_header_and_default_to_0_3() {
        let mut h = HeaderMap::new();
        assert_eq!(Version::of(&h).unwrap(), Version::V03);
        h.insert("a2a-version", "1.0".parse().unwrap());
        assert_eq!(Version::of(&h).unwrap(), Version::V10);
        h.insert("a2a-version", "0.3".parse().unwrap());
        assert_eq!(Version::of(&h).unwrap(), Version::V03);
        h.insert("a2a-version", "2.1".parse().unwrap());
        assert_eq!(Version::of(&h).unwrap_err().code(), -32009);
    }

    #[test]
    fn messages_of_both_versions_read_the_same() {
        let v10 = json!({"messageId": "m", "role": "ROLE_USER", "parts": [{"text": "hi"}]});
        let v03 = json!({"kind": "message", "messageId": "m", "role": "user", "parts": [{"kind": "text", "text": "hi"}]});
        for m in [v10, v03] {
            let i = Inbound::parse(&m).unwrap();
            assert_eq!(i.run_input(), json!({"message": "hi"}));
            assert_eq!(i.reply(), json!("hi"));
        }
        let data =
            json!({"messageId": "m", "role": "ROLE_USER", "parts": [{"data": {"ticket": "t"}}]});
        assert_eq!(
            Inbound::parse(&data).unwrap().run_input(),
            json!({"ticket": "t"})
        );
        let agent = json!({"messageId": "m", "role": "ROLE_AGENT", "parts": [{"text": "x"}]});
        assert_eq!(Inbound::parse(&agent).unwrap_err().code(), -32602);
        let file =
            json!({"messageId": "m", "role": "ROLE_USER", "parts": [{"url": "https://x/y.pdf"}]});
        assert_eq!(Inbound::parse(&file).unwrap_err().code(), -32005);
        let empty = json!({"messageId": "m", "role": "ROLE_USER", "parts": []});
        assert_eq!(Inbound::parse(&empty).unwrap_err().code(), -32602);
    }

    #[test]
    fn tasks_convert_to_0_3() {
        let task = json!({
            "id": "t", "contextId": "c",
            "status": {"state": "TASK_STATE_INPUT_REQUIRED", "message": agent_message("a", "t", "c", &parts_of(&json!("Which?")))},
            "artifacts": [{"artifactId": "o", "parts": parts_of(&json!(42))}],
        });
        let old = to_v03("task", &task);
        assert_eq!(old["kind"], "task");
        assert_eq!(old["status"]["state"], "input-required");
        assert_eq!(old["status"]["message"]["role"], "agent");
        assert_eq!(
            old["status"]["message"]["parts"][0],
            json!({"kind": "text", "text": "Which?"})
        );
        assert_eq!(
            old["artifacts"][0]["parts"][0],
            json!({"kind": "data", "data": {"value": 42}})
        );
        let update = json!({"taskId": "t", "status": {"state": "TASK_STATE_COMPLETED"}});
        assert_eq!(to_v03("status-update", &update)["final"], true);
    }
}
