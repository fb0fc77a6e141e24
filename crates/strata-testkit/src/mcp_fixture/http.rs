//! Serving the fixture: Streamable HTTP at `/mcp` (stateful sessions) or stdio.

use std::net::SocketAddr;
use std::sync::Arc;

use rmcp::ServiceExt;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::diagnostics::Registry;
use super::handler::Fixture;
use super::sessions::FixtureSessions;

/// The path the MCP endpoint is served at.
pub const MCP_PATH: &str = "/mcp";

/// An axum router serving the fixture at [`MCP_PATH`]. `cancel` ends open SSE streams
/// and sessions when cancelled. Only loopback `Host` headers are accepted (DNS
/// rebinding protection); `allowed_hosts` adds more (`host` or `host:port`).
pub fn router(cancel: CancellationToken, allowed_hosts: &[String]) -> axum::Router {
    let sessions = Arc::new(FixtureSessions::default());
    let mut hosts: Vec<String> = ["localhost", "127.0.0.1", "::1"]
        .into_iter()
        .map(str::to_owned)
        .collect();
    hosts.extend(allowed_hosts.iter().cloned());
    let config = StreamableHttpServerConfig::default()
        .with_allowed_hosts(hosts)
        .with_cancellation_token(cancel);
    let factory_sessions = sessions.clone();
    let registry = Arc::new(Registry::default());
    let service = StreamableHttpService::new(
        move || {
            Ok(Fixture::with_sessions(
                factory_sessions.clone(),
                registry.clone(),
            ))
        },
        sessions,
        config,
    );
    axum::Router::new().route_service(MCP_PATH, service)
}

/// A fixture serving Streamable HTTP in this process; stops when dropped.
#[derive(Debug)]
pub struct FixtureServer {
    addr: SocketAddr,
    cancel: CancellationToken,
    task: Option<JoinHandle<()>>,
}

impl FixtureServer {
    /// Serves the fixture on an ephemeral port of 127.0.0.1.
    ///
    /// # Errors
    /// When the port cannot be bound.
    pub async fn start() -> std::io::Result<Self> {
        Self::bind("127.0.0.1:0".parse().map_err(std::io::Error::other)?).await
    }

    /// Serves the fixture on `addr` (port 0 picks a free one).
    ///
    /// # Errors
    /// When `addr` cannot be bound.
    pub async fn bind(addr: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        Ok(Self::serve(listener, &[]))
    }

    /// Serves the fixture on an already bound listener; `allowed_hosts` as in [`router`].
    #[must_use]
    pub fn serve(listener: TcpListener, allowed_hosts: &[String]) -> Self {
        let addr = listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)));
        let cancel = CancellationToken::new();
        let app = router(cancel.clone(), allowed_hosts);
        let shutdown = cancel.clone().cancelled_owned();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await;
        });
        Self {
            addr,
            cancel,
            task: Some(task),
        }
    }

    /// The bound address.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The MCP endpoint, e.g. `http://127.0.0.1:PORT/mcp`.
    #[must_use]
    pub fn url(&self) -> String {
        format!("http://{}{MCP_PATH}", self.addr)
    }

    /// Stops serving and waits for the server task to end.
    pub async fn stop(mut self) {
        self.cancel.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for FixtureServer {
    fn drop(&mut self) {
        self.cancel.cancel();
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// Serves the fixture over stdin/stdout until the client closes the stream.
///
/// # Errors
/// When the MCP handshake fails or the transport breaks.
pub async fn serve_stdio() -> std::io::Result<()> {
    let service = Fixture::new()
        .serve(rmcp::transport::stdio())
        .await
        .map_err(std::io::Error::other)?;
    service.waiting().await.map_err(std::io::Error::other)?;
    Ok(())
}
