//! Shared building blocks of every Strata crate: secrets that never print, the shutdown
//! signal every task listens to, and identifiers.

pub mod names;
mod secret;
mod shutdown;

pub use secret::Secret;
pub use shutdown::Shutdown;

/// Who a call is made for. Attached to in-process requests as an `http` extension by the
/// layer above (the agent layer calling the ai and mcp layers); it never comes from the network,
/// so a layer that finds it may trust it like an authenticated key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The key, token subject or run principal's name; `None` for anonymous callers.
    pub name: Option<String>,
}

/// The header in which a caller whose role may `delegate` (the agent tier's key) names the
/// principal it acts for; the layers then apply that principal's roles, limits and audit.
pub const ON_BEHALF_OF: &str = "x-strata-on-behalf-of";

/// The trace id (32 hex digits) of a W3C `traceparent` value, if it is a valid one.
#[must_use]
pub fn trace_id_of(traceparent: &str) -> Option<String> {
    let mut parts = traceparent.trim().split('-');
    let (_version, id) = (parts.next()?, parts.next()?);
    let valid = id.len() == 32
        && id.bytes().all(|b| b.is_ascii_hexdigit())
        && id.bytes().any(|b| b != b'0');
    valid.then(|| id.to_ascii_lowercase())
}

/// The version of this build, as written in the workspace manifest.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// A new time-ordered unique identifier (UUID v7) as a string.
#[must_use]
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Milliseconds since the Unix epoch, the timestamp unit used in storage.
#[must_use]
pub fn now_ms() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(now.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod trace_tests {
    use super::trace_id_of;

    #[test]
    fn trace_ids_come_from_valid_traceparents_only() {
        assert_eq!(
            trace_id_of("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01").as_deref(),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
        assert_eq!(
            trace_id_of("00-00000000000000000000000000000000-00f067aa0ba902b7-01"),
            None
        );
        assert_eq!(trace_id_of("junk"), None);
        assert_eq!(trace_id_of("00-4bf9-00f067aa0ba902b7-01"), None);
    }
}
