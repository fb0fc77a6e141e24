//! A secret value (API key, token, password) that never shows up in logs, `Debug` output,
//! serialized config or error messages. The only way to read it is [`Secret::expose`].

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

/// What a secret prints as, everywhere.
pub const REDACTED: &str = "********";

/// A string that must not be printed. `Debug`, `Display` and `Serialize` all emit [`REDACTED`].
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    #[must_use]
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The plain value. Call it only where the value is sent where it belongs.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Hex SHA-256 of the value: what the store keeps instead of the value.
    #[must_use]
    pub fn sha256_hex(&self) -> String {
        hex::encode(Sha256::digest(self.0.as_bytes()))
    }

    /// Whether the value is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({REDACTED})")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(REDACTED)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Self)
    }
}

impl JsonSchema for Secret {
    fn schema_name() -> Cow<'static, str> {
        "Secret".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "description": "A secret. Write it as ${ENV_VAR} rather than literally; it is never printed."
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints() {
        let s = Secret::new("sk-live-123");
        assert_eq!(format!("{s:?}"), "Secret(********)");
        assert_eq!(s.to_string(), REDACTED);
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"********\"");
        assert!(!format!("{s:?}{s}").contains("sk-live"));
        assert_eq!(s.expose(), "sk-live-123");
    }

    #[test]
    fn hashes_to_sha256() {
        let s = Secret::new("abc");
        assert_eq!(
            s.sha256_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
