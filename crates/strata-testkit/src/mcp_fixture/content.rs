//! Fixed payloads the conformance scenarios expect, and small JSON helpers.

use rmcp::model::JsonObject;
use serde_json::Value;

/// A 1x1 red PNG, base64.
pub const PNG_BASE64: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==";

/// A minimal WAV file (a header and two bytes of silence), base64.
pub const WAV_BASE64: &str = "UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA=";

/// How long list and read results may be cached by a client (SEP-2549, 2026-07-28).
pub const CACHE_TTL_MS: u64 = 60_000;

/// The object inside `value`, or an empty object when `value` is not one.
#[must_use]
pub fn object(value: Value) -> JsonObject {
    match value {
        Value::Object(map) => map,
        _ => JsonObject::new(),
    }
}

/// The input schema of a tool that takes no arguments.
#[must_use]
pub fn empty_schema() -> JsonObject {
    object(serde_json::json!({ "type": "object", "properties": {} }))
}

/// The string argument `name`, if present.
#[must_use]
pub fn str_arg<'a>(args: Option<&'a JsonObject>, name: &str) -> Option<&'a str> {
    args.and_then(|a| a.get(name)).and_then(Value::as_str)
}
