//! Reading message content that is either a string or a list of blocks with `text`.

use serde_json::Value;

/// The text of `content`: the string itself, or the `text` of each block joined by `sep`.
#[must_use]
pub fn text(content: &Value, sep: &str) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .filter_map(|b| b.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(sep),
        _ => String::new(),
    }
}

/// Appends `items` under `key` to the last message when it has the same role, or starts a
/// new message: several OpenAI messages (tool results) can make one turn in other APIs.
pub fn push_merged(messages: &mut Vec<Value>, role: &str, key: &str, items: Vec<Value>) {
    if items.is_empty() {
        return;
    }
    if let Some(last) = messages.last_mut()
        && last["role"] == role
        && let Some(existing) = last[key].as_array_mut()
    {
        existing.extend(items);
        return;
    }
    let mut message = serde_json::Map::new();
    message.insert("role".into(), Value::String(role.to_string()));
    message.insert(key.into(), Value::Array(items));
    messages.push(Value::Object(message));
}
