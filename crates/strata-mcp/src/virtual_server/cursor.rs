//! The cursor of a merged list: which upstream to read next and that upstream's own cursor,
//! opaque to the client.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

/// A position in a merged list.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Position {
    /// Index into the session's upstreams.
    pub upstream: usize,
    /// That upstream's cursor; `None` for its first page.
    pub cursor: Option<Value>,
}

pub(crate) fn encode(position: &Position) -> String {
    let value = json!([position.upstream, position.cursor]);
    URL_SAFE_NO_PAD.encode(value.to_string())
}

/// Reads a cursor this gateway issued; `None` when it is not one.
pub(crate) fn decode(cursor: &str, upstreams: usize) -> Option<Position> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    let Value::Array(parts) = serde_json::from_slice::<Value>(&bytes).ok()? else {
        return None;
    };
    let [index, inner] = parts.as_slice() else {
        return None;
    };
    let upstream = usize::try_from(index.as_u64()?)
        .ok()
        .filter(|i| *i < upstreams)?;
    let cursor = match inner {
        Value::Null => None,
        Value::String(_) => Some(inner.clone()),
        _ => return None,
    };
    Some(Position { upstream, cursor })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_foreign_cursors() {
        let position = Position {
            upstream: 1,
            cursor: Some(json!("page-2")),
        };
        assert_eq!(decode(&encode(&position), 2), Some(position.clone()));
        assert_eq!(decode(&encode(&position), 1), None, "upstream out of range");
        assert_eq!(decode("not base64 !", 2), None);
        assert_eq!(decode(&URL_SAFE_NO_PAD.encode("{}"), 2), None);
        assert_eq!(decode(&URL_SAFE_NO_PAD.encode("[0, 5]"), 2), None);
    }
}
