//! Upstream HTTP/1.1 connections for plain-`http` upstreams (a vLLM or Ollama next to the
//! gateway, an MCP server in the same cluster), driven in the task of the request that uses
//! them.
//!
//! A pooled client such as reqwest runs each connection in a task of its own: every call
//! hands its request to that task and the answer back, two wake-ups across threads per call.
//! On a proxy's hot path that hand-off costs more than the proxying itself (see
//! `docs/benchmarks.md`, "the floors"). Here the request's task polls hyper's connection
//! itself while it waits for the answer and while it reads the body; once the body has been
//! read the connection goes back to a small pool of idle ones.
//!
//! What this client does not do, and where callers keep using reqwest: TLS, proxies
//! (it is never chosen when a proxy variable is set), HTTP/2 and redirects.
//!
//! Stale connections: an idle connection the upstream has closed is noticed when it is taken
//! from the pool (one poll of the connection without waiting) and dropped; a request that
//! still finds its connection closed before a byte of it was written is sent again on a new
//! connection. A request that was written is never sent twice.

mod body;
mod conn;
mod error;
mod pool;

pub use body::Body;
pub use error::Error;
pub use pool::{DISABLE, Pool};

/// The path and query of `url` (what an HTTP/1.1 request line carries), as the URI of a
/// request sent through a [`Pool`]; `/` when the URL has no path.
#[must_use]
pub fn origin_form(url: &str) -> Option<http::Uri> {
    let uri: http::Uri = url.parse().ok()?;
    let path = uri
        .path_and_query()
        .map_or("/", http::uri::PathAndQuery::as_str);
    path.parse().ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn origin_form_keeps_path_and_query() {
        let of = |url| super::origin_form(url).map(|u| u.to_string());
        assert_eq!(
            of("http://h:8000/openai/deployments/d/chat/completions?api-version=1").as_deref(),
            Some("/openai/deployments/d/chat/completions?api-version=1")
        );
        assert_eq!(of("http://h").as_deref(), Some("/"));
        assert_eq!(of("not a url"), None);
    }
}
