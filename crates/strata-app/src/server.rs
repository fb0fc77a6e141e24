//! Serving listeners until shutdown, then draining: stop accepting at once, let in-flight
//! requests and streams finish up to the drain timeout, then cut what is left.
//!
//! Each connection is its own task: on shutdown it is asked to close gracefully (idle
//! keep-alive connections close at once, busy ones after their response), and at the drain
//! timeout it is dropped, which closes the socket.

use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use strata_core::Shutdown;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::wake::SelfWakes;

/// How a drain ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DrainOutcome {
    /// Every connection finished within the drain timeout.
    pub clean: bool,
    /// How long the drain took.
    pub took: Duration,
}

/// Serves every `(listener, router)` pair until `shutdown` triggers, then drains.
/// Streaming handlers end their streams when they see the shutdown token.
pub async fn serve_routers(
    listeners: Vec<(TcpListener, Router)>,
    shutdown: Shutdown,
    drain_timeout: Duration,
) -> DrainOutcome {
    let connections = TaskTracker::new();
    let cut = CancellationToken::new();
    let accepting = TaskTracker::new();
    for (listener, router) in listeners {
        accepting.spawn(accept_loop(
            listener,
            router,
            shutdown.clone(),
            connections.clone(),
            cut.clone(),
        ));
    }
    accepting.close();
    shutdown.triggered().await;
    // The accept loops return at once, dropping (closing) their listening sockets.
    accepting.wait().await;
    let started = tokio::time::Instant::now();
    tracing::info!(
        timeout_ms = drain_timeout.as_millis() as u64,
        open = connections.len(),
        "draining: no new connections; waiting for in-flight requests"
    );
    connections.close();
    let clean = tokio::time::timeout(drain_timeout, connections.wait())
        .await
        .is_ok();
    if !clean {
        tracing::warn!(
            open = connections.len(),
            "drain timeout reached; closing the remaining connections"
        );
        cut.cancel();
        connections.wait().await;
    }
    DrainOutcome {
        clean,
        took: started.elapsed(),
    }
}

async fn accept_loop(
    listener: TcpListener,
    router: Router,
    shutdown: Shutdown,
    connections: TaskTracker,
    cut: CancellationToken,
) {
    loop {
        let accepted = tokio::select! {
            () = shutdown.triggered() => return,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, _peer)) => {
                connections.spawn(serve_connection(
                    stream,
                    router.clone(),
                    shutdown.clone(),
                    cut.clone(),
                ));
            }
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

async fn serve_connection(
    stream: TcpStream,
    router: Router,
    shutdown: Shutdown,
    cut: CancellationToken,
) {
    let _ = stream.set_nodelay(true);
    let builder = Builder::new(TokioExecutor::new());
    let connection = builder
        .serve_connection_with_upgrades(TokioIo::new(stream), TowerToHyperService::new(router));
    tokio::pin!(connection);
    let wakes = SelfWakes::new();
    let result = tokio::select! {
        result = std::future::poll_fn(|cx| wakes.poll(connection.as_mut(), cx)) => result,
        () = shutdown.triggered() => {
            connection.as_mut().graceful_shutdown();
            tokio::select! {
                result = std::future::poll_fn(|cx| wakes.poll(connection.as_mut(), cx)) => result,
                () = cut.cancelled() => return,
            }
        }
    };
    if let Err(e) = result {
        tracing::debug!(error = %e, "connection ended with an error");
    }
}
