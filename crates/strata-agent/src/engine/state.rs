//! Writing step outputs into the run state through each key's reducer.

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use strata_config::{Reducer, StateKey};

/// The initial state: each declared key's default.
#[must_use]
pub fn initial(keys: &BTreeMap<String, StateKey>) -> Map<String, Value> {
    keys.iter()
        .filter_map(|(k, v)| Some((k.clone(), v.default.clone()?)))
        .collect()
}

/// Writes `value` at `path` (`key` or `key.a.b`) through the key's reducer.
pub fn write(
    state: &mut Map<String, Value>,
    keys: &BTreeMap<String, StateKey>,
    path: &str,
    value: Value,
) {
    let mut parts = path.split('.');
    let Some(key) = parts.next() else { return };
    let rest: Vec<&str> = parts.collect();
    let reducer = keys.get(key).map(|k| k.reducer).unwrap_or_default();
    let slot = state.entry(key.to_string()).or_insert(Value::Null);
    let target = descend(slot, &rest);
    reduce(target, reducer, value);
}

/// The value at `path` under `slot`, creating objects on the way.
fn descend<'v>(mut slot: &'v mut Value, path: &[&str]) -> &'v mut Value {
    for part in path {
        if !slot.is_object() {
            *slot = Value::Object(Map::new());
        }
        slot = match slot {
            Value::Object(map) => map.entry((*part).to_string()).or_insert(Value::Null),
            other => other,
        };
    }
    slot
}

/// Merges `value` into `slot`.
pub fn reduce(slot: &mut Value, reducer: Reducer, value: Value) {
    match reducer {
        Reducer::Replace => *slot = value,
        Reducer::Append => {
            if !slot.is_array() {
                *slot = match slot.take() {
                    Value::Null => Value::Array(Vec::new()),
                    other => Value::Array(vec![other]),
                };
            }
            if let Value::Array(list) = slot {
                match value {
                    Value::Array(items) => list.extend(items),
                    other => list.push(other),
                }
            }
        }
        Reducer::Merge => merge(slot, value),
        Reducer::Add => {
            let sum = match (slot.as_i64(), value.as_i64()) {
                (Some(a), Some(b)) => Value::from(a.saturating_add(b)),
                _ => Value::from(slot.as_f64().unwrap_or(0.0) + value.as_f64().unwrap_or(0.0)),
            };
            *slot = sum;
        }
    }
}

/// Deep merge: objects key by key, anything else replaced.
fn merge(slot: &mut Value, value: Value) {
    match (slot, value) {
        (Value::Object(into), Value::Object(from)) => {
            for (k, v) in from {
                merge(into.entry(k).or_insert(Value::Null), v);
            }
        }
        (slot, value) => *slot = value,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn keys(spec: Value) -> BTreeMap<String, StateKey> {
        serde_json::from_value(spec).unwrap()
    }

    #[test]
    fn reducers_merge_writes() {
        let keys = keys(json!({
            "findings": { "reducer": "append" },
            "ticket": { "reducer": "merge", "default": { "id": 1 } },
            "count": { "reducer": "add", "default": 0 },
        }));
        let mut state = initial(&keys);
        assert_eq!(
            Value::Object(state.clone()),
            json!({ "ticket": { "id": 1 }, "count": 0 })
        );
        write(&mut state, &keys, "findings", json!("a"));
        write(&mut state, &keys, "findings", json!(["b", "c"]));
        write(
            &mut state,
            &keys,
            "ticket.class",
            json!({ "severity": "high" }),
        );
        write(
            &mut state,
            &keys,
            "ticket.class",
            json!({ "topics": ["x"] }),
        );
        write(&mut state, &keys, "count", json!(2));
        write(&mut state, &keys, "count", json!(3));
        write(&mut state, &keys, "answer", json!("first"));
        write(&mut state, &keys, "answer", json!("second"));
        write(&mut state, &keys, "deep.a.b", json!(1));
        assert_eq!(
            Value::Object(state),
            json!({
                "findings": ["a", "b", "c"],
                "ticket": { "id": 1, "class": { "severity": "high", "topics": ["x"] } },
                "count": 5,
                "answer": "second",
                "deep": { "a": { "b": 1 } },
            })
        );
    }

    #[test]
    fn add_handles_floats_and_missing_values() {
        let mut slot = Value::Null;
        reduce(&mut slot, Reducer::Add, json!(1.5));
        reduce(&mut slot, Reducer::Add, json!(2));
        assert_eq!(slot, json!(3.5));
    }
}
