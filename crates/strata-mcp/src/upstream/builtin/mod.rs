//! Upstreams built into the binary (`builtin: demo`, and the REST upstreams), served in-process over a duplex pipe
//! with the same framing as a stdio child, so they go through exactly the same relay.

mod demo;

use std::sync::Arc;

use rmcp::ServiceExt;
use rmcp::handler::server::ServerHandler;
use tokio_util::sync::CancellationToken;

use super::Shared;
use super::stdio::StdioWire;

/// Bytes the pipe buffers each way.
const PIPE: usize = 1 << 20;

/// Starts the built-in server for one session; it stops when the session's token is cancelled.
pub(crate) fn start(shared: Arc<Shared>, cancel: &CancellationToken) -> StdioWire {
    serve(demo::Demo, shared, cancel)
}

/// Serves `server` in-process for one session, over a pipe framed like a stdio child's; it
/// stops when the session's token is cancelled.
pub(crate) fn serve<S>(server: S, shared: Arc<Shared>, cancel: &CancellationToken) -> StdioWire
where
    S: ServerHandler + Send + 'static,
{
    let (ours, theirs) = tokio::io::duplex(PIPE);
    let (reader, writer) = tokio::io::split(ours);
    let stop = cancel.clone();
    tokio::spawn(async move {
        let running = match server.serve(theirs).await {
            Ok(running) => running,
            Err(error) => {
                tracing::warn!(%error, "an in-process server did not start");
                return;
            }
        };
        let token = running.cancellation_token();
        tokio::spawn(async move {
            stop.cancelled().await;
            token.cancel();
        });
        let _ = running.waiting().await;
    });
    StdioWire::over(reader, writer, shared, cancel)
}
