//! Durations written the human way: `500ms`, `30s`, `2m`, `1h 30m`.

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A duration read from and written as a humantime string.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Duration(pub std::time::Duration);

/// The units humantime accepts, for the schema's pattern.
const PATTERN: &str = r"^\s*([0-9]+\s*(nsec|ns|usec|us|µs|msec|ms|seconds|second|secs|sec|s|minutes|minute|mins|min|m|hours|hour|hrs|hr|h|days|day|d|weeks|week|w)\s*)+$";

impl Duration {
    /// Whole seconds.
    #[must_use]
    pub const fn from_secs(secs: u64) -> Self {
        Self(std::time::Duration::from_secs(secs))
    }

    /// Milliseconds.
    #[must_use]
    pub const fn from_millis(ms: u64) -> Self {
        Self(std::time::Duration::from_millis(ms))
    }
}

impl fmt::Debug for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&humantime::format_duration(self.0).to_string())
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        humantime::parse_duration(&text)
            .map(Self)
            .map_err(|e| serde::de::Error::custom(format!("bad duration {text:?}: {e}")))
    }
}

impl JsonSchema for Duration {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": PATTERN,
            "description": "A duration such as 500ms, 30s, 2m or 1h 30m."
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let d: Duration = serde_json::from_str("\"1m 30s\"").unwrap();
        assert_eq!(d.0, std::time::Duration::from_secs(90));
        assert_eq!(serde_json::to_string(&d).unwrap(), "\"1m 30s\"");
        assert!(serde_json::from_str::<Duration>("\"soon\"").is_err());
    }

    #[test]
    fn pattern_matches_what_humantime_takes() {
        let re = regex_lite_match;
        for ok in ["30s", "500ms", "1h 30m", "2m", "10 sec"] {
            assert!(re(ok), "{ok}");
            assert!(humantime::parse_duration(ok).is_ok(), "{ok}");
        }
        for bad in ["", "soon", "30", "s"] {
            assert!(!re(bad), "{bad}");
        }
    }

    fn regex_lite_match(text: &str) -> bool {
        let schema = serde_json::json!({ "type": "string", "pattern": PATTERN });
        jsonschema::is_valid(&schema, &serde_json::Value::String(text.into()))
    }
}
