//! Serving listeners until shutdown, then draining: stop accepting at once, let in-flight
//! requests and streams finish up to the drain timeout, then cut what is left.

use std::time::Duration;

use axum::Router;
use strata_core::Shutdown;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

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
    let mut servers = JoinSet::new();
    for (listener, router) in listeners {
        let signal = shutdown.clone();
        servers.spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async move { signal.triggered().await })
                .await
        });
    }
    shutdown.triggered().await;
    let started = tokio::time::Instant::now();
    tracing::info!(
        timeout_ms = drain_timeout.as_millis() as u64,
        "draining: no new connections; waiting for in-flight requests"
    );
    let drained = tokio::time::timeout(drain_timeout, async {
        while let Some(result) = servers.join_next().await {
            if let Ok(Err(e)) = result {
                tracing::warn!(error = %e, "listener ended with an error");
            }
        }
    })
    .await
    .is_ok();
    if !drained {
        tracing::warn!(
            open = servers.len(),
            "drain timeout reached; closing the remaining connections"
        );
        servers.abort_all();
    }
    DrainOutcome {
        clean: drained,
        took: started.elapsed(),
    }
}
