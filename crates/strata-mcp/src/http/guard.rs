//! Checks every request passes before it reaches a session: DNS-rebinding protection (`Host`
//! and `Origin`), what the client accepts, and the protocol version it claims.

use axum::http::HeaderMap;
use axum::http::header::{ACCEPT, CONTENT_TYPE, HOST, ORIGIN};

use crate::McpError;

/// Protocol revisions served on the stateful Streamable HTTP transport.
pub(crate) const SUPPORTED_VERSIONS: [&str; 4] =
    ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"];
pub(crate) const LATEST_VERSION: &str = "2025-11-25";
pub(crate) const VERSION_HEADER: &str = "mcp-protocol-version";
pub(crate) const SESSION_HEADER: &str = "mcp-session-id";

/// The `Host` and `Origin` values accepted.
#[derive(Debug, Clone, Default)]
pub(crate) struct Guard {
    /// Enforce `Host` (the listener is on loopback, or hosts were configured).
    check_host: bool,
    allowed_hosts: Vec<String>,
    allowed_origins: Vec<String>,
}

fn is_local(hostname: &str) -> bool {
    matches!(hostname, "localhost" | "127.0.0.1" | "[::1]" | "::1")
}

/// `host[:port]` without the port.
fn hostname(host: &str) -> &str {
    if host.starts_with('[') {
        return host
            .split_once(']')
            .map_or(host, |(h, _)| &host[..=h.len()]);
    }
    host.rsplit_once(':').map_or(host, |(h, _)| h)
}

impl Guard {
    pub(crate) fn new(
        listener: &str,
        allowed_hosts: &[String],
        allowed_origins: &[String],
    ) -> Self {
        let loopback = listener
            .parse::<std::net::SocketAddr>()
            .is_ok_and(|a| a.ip().is_loopback());
        Self {
            check_host: loopback || !allowed_hosts.is_empty(),
            allowed_hosts: allowed_hosts
                .iter()
                .map(|h| h.to_ascii_lowercase())
                .collect(),
            allowed_origins: allowed_origins.to_vec(),
        }
    }

    pub(crate) fn check(&self, headers: &HeaderMap) -> Result<(), McpError> {
        if self.check_host {
            let host = headers
                .get(HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or_default()
                .to_ascii_lowercase();
            let name = hostname(&host);
            let allowed =
                is_local(name) || self.allowed_hosts.iter().any(|a| *a == host || a == name);
            if !allowed {
                return Err(McpError::Forbidden(format!("Host `{host}` is not allowed")));
            }
        }
        if let Some(origin) = headers.get(ORIGIN) {
            let origin = origin.to_str().unwrap_or_default();
            let local = url::Url::parse(origin)
                .ok()
                .and_then(|u| u.host_str().map(is_local))
                .unwrap_or(false);
            if !local && !self.allowed_origins.iter().any(|a| a == origin) {
                return Err(McpError::Forbidden(format!(
                    "Origin `{origin}` is not allowed"
                )));
            }
        }
        Ok(())
    }
}

/// What the `Accept` header allows: (JSON, SSE). A missing header or `*/*` allows both.
pub(crate) fn accepts(headers: &HeaderMap) -> (bool, bool) {
    let Some(accept) = headers.get(ACCEPT).and_then(|v| v.to_str().ok()) else {
        return (true, true);
    };
    let has = |wanted: &str| {
        accept.split(',').any(|part| {
            let media = part.split(';').next().unwrap_or_default().trim();
            media == wanted || media == "*/*"
        })
    };
    (has("application/json"), has("text/event-stream"))
}

pub(crate) fn require_json_body(headers: &HeaderMap) -> Result<(), McpError> {
    let json = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("application/json")
        });
    if json {
        Ok(())
    } else {
        Err(McpError::UnsupportedMediaType)
    }
}

/// A claimed `MCP-Protocol-Version` must be one this gateway speaks; none means 2025-03-26.
pub(crate) fn check_version(headers: &HeaderMap) -> Result<(), McpError> {
    match headers
        .get(VERSION_HEADER)
        .map(|v| v.to_str().unwrap_or_default())
    {
        None => Ok(()),
        Some(v) if SUPPORTED_VERSIONS.contains(&v) => Ok(()),
        Some(v) => Err(McpError::UnsupportedVersion(format!(
            "{v} (supported: {})",
            SUPPORTED_VERSIONS.join(", ")
        ))),
    }
}

pub(crate) fn session_id(headers: &HeaderMap) -> Result<&str, McpError> {
    headers
        .get(SESSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .ok_or(McpError::MissingSession)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, v.parse().expect("header"));
        }
        map
    }

    #[test]
    fn local_hosts_pass_and_others_are_refused_on_loopback() {
        let guard = Guard::new("127.0.0.1:4001", &[], &[]);
        for ok in [
            "localhost:4001",
            "127.0.0.1:4001",
            "[::1]:4001",
            "localhost",
        ] {
            assert!(guard.check(&headers(&[("host", ok)])).is_ok(), "{ok}");
        }
        assert!(
            guard
                .check(&headers(&[("host", "evil.example.com")]))
                .is_err()
        );
        assert!(
            guard
                .check(&headers(&[("host", "localhost.evil.com:4001")]))
                .is_err()
        );
        let open = Guard::new("0.0.0.0:4001", &[], &[]);
        assert!(open.check(&headers(&[("host", "mcp.example.com")])).is_ok());
        let named = Guard::new("0.0.0.0:4001", &["mcp.example.com".into()], &[]);
        assert!(
            named
                .check(&headers(&[("host", "mcp.example.com:443")]))
                .is_ok()
        );
        assert!(
            named
                .check(&headers(&[("host", "evil.example.com")]))
                .is_err()
        );
    }

    #[test]
    fn foreign_origins_are_refused() {
        let guard = Guard::new("127.0.0.1:4001", &[], &["https://app.example.com".into()]);
        let with = |o| headers(&[("host", "localhost"), ("origin", o)]);
        assert!(guard.check(&with("http://localhost:3000")).is_ok());
        assert!(guard.check(&with("https://app.example.com")).is_ok());
        assert!(guard.check(&with("http://evil.example.com")).is_err());
    }

    #[test]
    fn accept_and_version_headers() {
        assert_eq!(
            accepts(&headers(&[(
                "accept",
                "application/json, text/event-stream"
            )])),
            (true, true)
        );
        assert_eq!(
            accepts(&headers(&[("accept", "text/event-stream")])),
            (false, true)
        );
        assert_eq!(accepts(&HeaderMap::new()), (true, true));
        assert!(check_version(&headers(&[("mcp-protocol-version", "2025-06-18")])).is_ok());
        assert!(check_version(&headers(&[("mcp-protocol-version", "1999-01-01")])).is_err());
    }
}
