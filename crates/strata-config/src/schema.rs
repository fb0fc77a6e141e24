//! The JSON Schema of the config, generated from the types, and a small walker over it that
//! turns schema errors into messages people can act on ("expected high, medium, low or an
//! integer", "unknown key `fallbak`, did you mean `fallback`?").

use serde_json::Value;

use crate::model::Config;
use crate::yaml::Seg;

/// The config's JSON Schema (draft 2020-12), as printed by `strata schema`.
#[must_use]
pub fn json_schema() -> Value {
    let mut schema = schemars::schema_for!(Config).to_value();
    if let Value::Object(map) = &mut schema {
        map.insert("$id".into(), "https://strata.dev/schema/config.json".into());
        map.insert("title".into(), "Strata config".into());
    }
    schema
}

/// Follows `$ref` into `$defs`.
fn resolve<'a>(root: &'a Value, mut node: &'a Value) -> &'a Value {
    for _ in 0..16 {
        let Some(reference) = node.get("$ref").and_then(Value::as_str) else {
            return node;
        };
        let Some(name) = reference.strip_prefix("#/$defs/") else {
            return node;
        };
        match root.get("$defs").and_then(|d| d.get(name)) {
            Some(next) => node = next,
            None => return node,
        }
    }
    node
}

/// The alternatives of a schema (`anyOf`/`oneOf`), or the schema itself.
fn alternatives<'a>(root: &'a Value, node: &'a Value) -> Vec<&'a Value> {
    let node = resolve(root, node);
    for key in ["anyOf", "oneOf"] {
        if let Some(Value::Array(alts)) = node.get(key) {
            return alts
                .iter()
                .flat_map(|alt| alternatives(root, alt))
                .collect();
        }
    }
    vec![node]
}

/// The schema that describes the value at `path`, if the schema says.
#[must_use]
pub fn at<'a>(root: &'a Value, path: &[Seg]) -> Option<&'a Value> {
    let mut node = resolve(root, root);
    for seg in path {
        node = alternatives(root, node)
            .into_iter()
            .find_map(|alt| match seg {
                Seg::Key(k) => alt
                    .get("properties")
                    .and_then(|p| p.get(k))
                    .or_else(|| alt.get("additionalProperties").filter(|v| v.is_object())),
                Seg::Index(_) => alt.get("items"),
            })?;
        node = resolve(root, node);
    }
    Some(node)
}

/// The keys an object at `path` may have.
#[must_use]
pub fn allowed_keys(root: &Value, path: &[Seg]) -> Vec<String> {
    let Some(node) = at(root, path) else {
        return Vec::new();
    };
    alternatives(root, node)
        .into_iter()
        .filter_map(|alt| alt.get("properties").and_then(Value::as_object))
        .flat_map(|props| props.keys().cloned())
        .collect()
}

/// Whether a string is an acceptable value at `path` (for reading unquoted scalars as text).
#[must_use]
pub fn accepts_string(root: &Value, path: &[Seg]) -> bool {
    at(root, path).is_some_and(|node| {
        alternatives(root, node).into_iter().any(|alt| {
            alt.get("enum").is_none()
                && match alt.get("type") {
                    Some(Value::String(t)) => t == "string",
                    Some(Value::Array(ts)) => ts.iter().any(|t| t == "string"),
                    _ => false,
                }
        })
    })
}

/// What the schema expects at `path`, in words.
#[must_use]
pub fn expected(root: &Value, path: &[Seg]) -> String {
    let Some(node) = at(root, path) else {
        return "a different value".into();
    };
    let mut parts: Vec<String> = Vec::new();
    for alt in alternatives(root, node) {
        if let Some(Value::Array(options)) = alt.get("enum") {
            parts.extend(options.iter().map(|o| match o {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            }));
        } else if let Some(desc) = alt.get("description").and_then(Value::as_str)
            && alt.get("pattern").is_some()
        {
            parts.push(desc.trim_end_matches('.').to_lowercase());
        } else {
            match alt.get("type") {
                Some(Value::String(t)) => parts.push(type_words(t)),
                Some(Value::Array(ts)) => {
                    parts.extend(ts.iter().filter_map(Value::as_str).map(type_words));
                }
                _ => {}
            }
        }
    }
    parts.dedup();
    if parts.len() > 1 {
        parts.retain(|p| p != NULL_WORDS);
    }
    match parts.len() {
        0 => "a different value".into(),
        1 => parts.remove(0),
        _ => {
            let last = parts.pop().unwrap_or_default();
            format!("{} or {last}", parts.join(", "))
        }
    }
}

const NULL_WORDS: &str = "nothing (null)";

fn type_words(t: &str) -> String {
    match t {
        "object" => "a mapping".into(),
        "array" => "a list".into(),
        "string" => "a string".into(),
        "integer" => "an integer".into(),
        "number" => "a number".into(),
        "boolean" => "true or false".into(),
        "null" => NULL_WORDS.into(),
        other => other.into(),
    }
}

/// How a JSON value's type reads in a message.
#[must_use]
pub fn found(value: &Value) -> &'static str {
    match value {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "an integer",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(path: &str) -> Vec<Seg> {
        path.split('.')
            .map(|s| match s.parse() {
                Ok(i) => Seg::Index(i),
                Err(_) => Seg::Key(s.into()),
            })
            .collect()
    }

    #[test]
    fn walks_refs_and_options() {
        let root = json_schema();
        let keys = allowed_keys(&root, &p("ai.providers.0"));
        assert!(keys.contains(&"fallback".to_string()), "{keys:?}");
        assert!(allowed_keys(&root, &p("auth.jwt")).contains(&"issuer".to_string()));
        assert!(accepts_string(&root, &p("auth.keys.0.key")));
        assert!(accepts_string(&root, &p("storage.redis")));
        assert!(!accepts_string(&root, &p("auth.keys.0.limits.rpm")));
    }

    #[test]
    fn describes_expectations() {
        let root = json_schema();
        assert_eq!(
            expected(&root, &p("ai.providers.0.priority")),
            "high, medium, low or an integer"
        );
        assert_eq!(expected(&root, &p("storage.max_connections")), "an integer");
        assert!(expected(&root, &p("server.drain_timeout")).contains("duration"));
    }
}
