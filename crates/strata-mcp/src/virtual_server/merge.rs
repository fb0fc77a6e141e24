//! The `initialize` result a virtual server gives: the upstreams' capabilities merged, only
//! those the gateway can proxy.

use serde_json::{Map, Value, json};

use crate::session::Session;

/// Capabilities the gateway relays (tasks are not relayed yet, so never advertised).
pub(crate) const PROXIED: [&str; 5] = ["tools", "prompts", "resources", "logging", "completions"];

pub(crate) fn initialize_result(session: &Session) -> Value {
    let connections: Vec<_> = session
        .live_upstreams()
        .into_iter()
        .filter_map(|i| session.connection(i))
        .collect();
    let mut capabilities = Map::new();
    for key in PROXIED {
        let offered: Vec<&Value> = connections
            .iter()
            .filter_map(|c| c.negotiated.capabilities.get(key))
            .collect();
        if !offered.is_empty() {
            capabilities.insert(key.to_string(), merge_flags(&offered));
        }
    }
    let server = &session.server;
    let server_info = match connections.as_slice() {
        [only] if server.upstreams.len() == 1 => only.negotiated.server_info.clone(),
        _ => {
            json!({ "name": format!("strata/{}", server.name), "version": env!("CARGO_PKG_VERSION") })
        }
    };
    let instructions = server.instructions.clone().or_else(|| {
        let parts: Vec<String> = connections
            .iter()
            .filter_map(|c| c.negotiated.instructions.as_ref().map(|i| (c, i)))
            .map(|(c, i)| {
                if connections.len() == 1 {
                    i.clone()
                } else {
                    format!("## {}\n{i}", c.name)
                }
            })
            .collect();
        (!parts.is_empty()).then(|| parts.join("\n\n"))
    });
    let mut result = json!({
        "protocolVersion": session.protocol_version,
        "capabilities": capabilities,
        "serverInfo": server_info,
    });
    if let Some(instructions) = instructions {
        result["instructions"] = instructions.into();
    }
    result
}

/// One capability object from several upstreams: a flag is set when any upstream sets it.
pub(crate) fn merge_flags(offered: &[&Value]) -> Value {
    let mut merged = Map::new();
    for object in offered.iter().filter_map(|v| v.as_object()) {
        for (flag, value) in object {
            let entry = merged.entry(flag.clone()).or_insert(Value::Bool(false));
            match (entry.as_bool(), value.as_bool()) {
                (Some(current), Some(new)) => *entry = Value::Bool(current || new),
                _ => {
                    if entry == &Value::Bool(false) {
                        *entry = value.clone();
                    }
                }
            }
        }
    }
    Value::Object(merged)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_are_set_when_any_upstream_sets_them() {
        let a = json!({"subscribe": true});
        let b = json!({"listChanged": true, "subscribe": false});
        assert_eq!(
            merge_flags(&[&a, &b]),
            json!({"subscribe": true, "listChanged": true})
        );
        let empty = json!({});
        assert_eq!(merge_flags(&[&empty]), json!({}));
    }
}
