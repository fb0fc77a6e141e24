//! Turns the positioned YAML tree into a JSON value for schema validation and serde.
//! Plain scalars follow the YAML 1.2 core schema (null, booleans, integers, floats);
//! quoted scalars are always strings.

use serde_json::{Map, Number, Value};

use crate::yaml::{Kind, Node};

/// The JSON form of a tree.
#[must_use]
pub fn to_json(node: &Node) -> Value {
    match &node.kind {
        Kind::Scalar { text, plain: true } => plain_scalar(text),
        Kind::Scalar { text, plain: false } => Value::String(text.clone()),
        Kind::Seq(items) => Value::Array(items.iter().map(to_json).collect()),
        Kind::Map(entries) => {
            let mut map = Map::new();
            for (key, value) in entries {
                map.entry(key.name.clone())
                    .or_insert_with(|| to_json(value));
            }
            Value::Object(map)
        }
    }
}

/// Reads a plain scalar by the YAML 1.2 core schema.
#[must_use]
pub fn plain_scalar(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    if let Some(n) = parse_int(text) {
        return Value::Number(n.into());
    }
    if looks_like_float(text)
        && let Ok(f) = text.parse::<f64>()
        && let Some(n) = Number::from_f64(f)
    {
        return Value::Number(n);
    }
    Value::String(text.to_string())
}

fn parse_int(text: &str) -> Option<i64> {
    if let Some(hex) = text.strip_prefix("0x") {
        return i64::from_str_radix(hex, 16).ok();
    }
    if let Some(oct) = text.strip_prefix("0o") {
        return i64::from_str_radix(oct, 8).ok();
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn looks_like_float(text: &str) -> bool {
    let body = text.strip_prefix(['-', '+']).unwrap_or(text);
    body.starts_with(|c: char| c.is_ascii_digit() || c == '.')
        && body.bytes().any(|b| b.is_ascii_digit())
        && body
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn core_schema() {
        assert_eq!(plain_scalar("~"), Value::Null);
        assert_eq!(plain_scalar("true"), json!(true));
        assert_eq!(plain_scalar("42"), json!(42));
        assert_eq!(plain_scalar("-7"), json!(-7));
        assert_eq!(plain_scalar("0x1f"), json!(31));
        assert_eq!(plain_scalar("2.5"), json!(2.5));
        assert_eq!(plain_scalar("1e3"), json!(1000.0));
        assert_eq!(plain_scalar("yes"), json!("yes"));
        assert_eq!(plain_scalar("127.0.0.1:4000"), json!("127.0.0.1:4000"));
        assert_eq!(plain_scalar("1.2.3"), json!("1.2.3"));
        assert_eq!(plain_scalar("30s"), json!("30s"));
    }

    #[test]
    fn quoted_scalars_stay_strings() {
        let (doc, _) = crate::yaml::parse("a: '42'\nb: 42\nc: \"true\"\n").unwrap();
        assert_eq!(to_json(&doc), json!({"a": "42", "b": 42, "c": "true"}));
    }
}
