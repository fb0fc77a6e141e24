//! A session stream sent as `text/event-stream`.
//!
//! The events are written here rather than with axum's `Sse`, which drops the `data:` line of
//! an event whose data is empty: the priming event MCP asks for is exactly that, and without
//! the line a client never sees it.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};

use crate::session::streams::{Next, Reader};

/// A comment line is sent when the stream has been quiet this long, so that proxies keep it.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

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
        let chunk = match state {
            State::Over => return None,
            State::Priming(reader) => {
                let event = format!("id: {}\ndata: \n\n", reader.priming_id());
                return Some((
                    Ok::<_, Infallible>(Bytes::from(event)),
                    State::Streaming(reader),
                ));
            }
            State::Streaming(mut reader) => {
                match tokio::time::timeout(KEEP_ALIVE, reader.next()).await {
                    Err(_) => (": keep-alive\n\n".to_string(), State::Streaming(reader)),
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
        Some((Ok(Bytes::from(chunk.0)), chunk.1))
    });
    (
        [
            (CONTENT_TYPE, "text/event-stream"),
            (CACHE_CONTROL, "no-cache"),
        ],
        Body::from_stream(events),
    )
        .into_response()
}
