//! A session stream sent as `text/event-stream`.
//!
//! The events are written here rather than with axum's `Sse`, which drops the `data:` line of
//! an event whose data is empty: the priming event MCP asks for is exactly that, and without
//! the line a client never sees it.

use std::convert::Infallible;
use std::fmt::Display;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use futures_util::{Stream, StreamExt};

use crate::session::streams::{Next, Reader};

/// A comment line is sent when the stream has been quiet this long, so that proxies keep it.
pub(crate) const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// The comment line sent to keep a quiet stream open.
pub(crate) const KEEP_ALIVE_LINE: &str = ": keep-alive\n\n";

/// A `text/event-stream` response whose body is `events`, each already a whole event.
pub(crate) fn stream_response(events: impl Stream<Item = Bytes> + Send + 'static) -> Response {
    let body = Body::from_stream(events.map(Ok::<_, Infallible>));
    (
        [
            (CONTENT_TYPE, "text/event-stream"),
            (CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// One event carrying `data` (a JSON-RPC message on one line).
pub(crate) fn data_event(data: impl Display) -> Bytes {
    Bytes::from(format!("data: {data}\n\n"))
}

enum State {
    /// The priming event is next.
    Priming(Reader),
    Streaming(Reader),
    Over,
}

/// Streams `reader` to the client. With `priming`, the first event is an id with empty data,
/// so that a client that loses the connection at once can still resume.
pub(crate) fn response(reader: Reader, priming: bool) -> Response {
    let start = if priming {
        State::Priming(reader)
    } else {
        State::Streaming(reader)
    };
    let events = futures_util::stream::unfold(start, |state| async move {
        let (chunk, next) = match state {
            State::Over => return None,
            State::Priming(reader) => (
                format!("id: {}\ndata: \n\n", reader.priming_id()),
                State::Streaming(reader),
            ),
            State::Streaming(mut reader) => {
                match tokio::time::timeout(KEEP_ALIVE, reader.next()).await {
                    Err(_) => (KEEP_ALIVE_LINE.to_string(), State::Streaming(reader)),
                    Ok(Next::Message { id, data }) => (
                        format!("id: {id}\ndata: {data}\n\n"),
                        State::Streaming(reader),
                    ),
                    Ok(Next::Pause { retry }) => {
                        (format!("retry: {}\n\n", retry.unwrap_or(1000)), State::Over)
                    }
                    Ok(Next::End) => return None,
                }
            }
        };
        Some((Bytes::from(chunk), next))
    });
    stream_response(events)
}
