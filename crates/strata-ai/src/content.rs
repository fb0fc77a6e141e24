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
