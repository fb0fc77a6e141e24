//! A stage over a stream's whole SSE events: each event as it completes is passed on or kept
//! by the stage, and when the upstream ends the stage says how the stream closes (after, for
//! example, a webhook's verdict or the call's priced usage). The stages of `hook_stream` and
//! `cost_stream` are built on it.

use axum::body::{Body, Bytes};
use futures_util::StreamExt;
use futures_util::future::BoxFuture;

/// What a stage does with events.
pub(super) trait Stage: Send + 'static {
    /// One whole event (with its blank line): append to `out` what goes on now.
    fn event(&mut self, event: Vec<u8>, out: &mut Vec<u8>);
    /// The upstream ended; `rest` is what followed the last whole event. What closes the stream.
    fn end(&mut self, rest: Vec<u8>) -> BoxFuture<'_, Vec<u8>>;
}

/// Fields drop in order: the upstream before the stage, so what the upstream reports when it is
/// dropped (its usage) has arrived when the stage's own `Drop` runs.
struct Running<S> {
    chunks: axum::body::BodyDataStream,
    stage: S,
    pending: Vec<u8>,
    ended: bool,
}

/// `body` through `stage`.
pub(super) fn run<S: Stage>(body: Body, stage: S) -> Body {
    let state = Running {
        chunks: body.into_data_stream(),
        stage,
        pending: Vec::new(),
        ended: false,
    };
    let stream = futures_util::stream::unfold(state, |mut s| async move {
        loop {
            if s.ended {
                return None;
            }
            match s.chunks.next().await {
                Some(Ok(chunk)) => {
                    s.pending.extend_from_slice(&chunk);
                    let mut out = Vec::new();
                    while let Some(end) = s.pending.windows(2).position(|w| w == b"\n\n") {
                        let event: Vec<u8> = s.pending.drain(..end + 2).collect();
                        s.stage.event(event, &mut out);
                    }
                    if !out.is_empty() {
                        return Some((Ok::<Bytes, axum::Error>(out.into()), s));
                    }
                }
                Some(Err(e)) => {
                    s.ended = true;
                    return Some((Err(e), s));
                }
                None => {
                    s.ended = true;
                    let rest = std::mem::take(&mut s.pending);
                    let out = s.stage.end(rest).await;
                    return Some((Ok(out.into()), s));
                }
            }
        }
    });
    Body::from_stream(stream)
}
