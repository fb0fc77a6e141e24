//! `openapi` and `http` upstreams: REST APIs served as MCP tools by an in-process server
//! (the same pipe as `builtin`), so their calls pass the same relay, RBAC, limits and audit
//! as any other upstream's.

mod args;
mod request;
mod response;
mod server;

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use strata_config::Upstream;
use tokio_util::sync::CancellationToken;

use super::Shared;
use super::stdio::StdioWire;

/// The HTTP client of REST upstreams. It never follows redirects: a `3xx` is the API's
/// answer, not a way to another host.
static CLIENT: LazyLock<reqwest::Client> = LazyLock::new(|| {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(10))
        .build()
        .unwrap_or_default()
});

/// The HTTP call's deadline: the upstream's `timeout`, less a margin (a tenth, at most a
/// second) so that its tool error reaches the session before the session gives up.
fn call_timeout(timeout: Duration) -> Duration {
    timeout.saturating_sub((timeout / 10).min(Duration::from_secs(1)))
}

/// Starts the upstream's server for one session; `None` when the upstream is not a REST one
/// or its tools were not compiled.
pub(crate) fn start(
    config: &Upstream,
    shared: Arc<Shared>,
    cancel: &CancellationToken,
) -> Option<StdioWire> {
    let tools = config.rest.clone()?;
    let server = server::RestServer::new(
        config.name.clone(),
        tools,
        config.headers.clone(),
        call_timeout(config.timeout.0),
        CLIENT.clone(),
    );
    Some(super::builtin::serve(server, shared, cancel))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_call_ends_before_the_session_stops_waiting() {
        assert_eq!(
            call_timeout(Duration::from_secs(60)),
            Duration::from_secs(59)
        );
        assert_eq!(
            call_timeout(Duration::from_secs(2)),
            Duration::from_millis(1800)
        );
    }
}
