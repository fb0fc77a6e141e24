//! Task update streams (`SendStreamingMessage`, `SubscribeToTask`, both bindings): the task
//! first, then each status and artifact update as the run journals it, closing once the task
//! has ended or asks for input. Every event's SSE `id` comes from the journal's sequence
//! numbers, so it is monotonic per task, the same on every stream, and a client that lost its
//! connection resumes after `Last-Event-ID` with nothing missed and nothing repeated.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream;
use serde_json::Value;

use super::Call;
use super::error::A2aError;
use super::ops;
use super::task::{SLOTS, Tracker};
use crate::engine::follow::Follower;

/// How a stream begins.
#[derive(Debug, Clone, Copy)]
pub enum Start {
    /// With the task as it is now.
    Snapshot,
    /// With the updates after this event id (a resumed stream).
    After(i64),
    /// For the message that started or resumed the task: the task as it was at this journal
    /// position (just before the message), then every update since, so that the sender sees
    /// them all however fast the run went meanwhile.
    Sent(i64),
}

impl Start {
    /// `Last-Event-ID` when the client sent one, else a snapshot.
    #[must_use]
    pub fn from_headers(headers: &HeaderMap) -> Self {
        headers
            .get("last-event-id")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<i64>().ok())
            .map_or(Start::Snapshot, Start::After)
    }
}

struct Feed {
    tracker: Tracker,
    follower: Follower,
    queue: VecDeque<(i64, Value)>,
    done: bool,
    render: Box<dyn Fn(&Value) -> String + Send + Sync>,
}

/// The stream of task `id`. `render` turns a 1.0 `StreamResponse` into the SSE `data` line.
pub async fn updates(
    call: &Call,
    id: &str,
    start: Start,
    subscribe: bool,
    render: Box<dyn Fn(&Value) -> String + Send + Sync>,
) -> Result<Response, A2aError> {
    let engine = call.a2a.engine.clone();
    let row = ops::visible(call, id).await?;
    let events = engine.store.run_events(id, 0, i64::MAX).await?;
    let mut tracker = Tracker::new(&row);
    let mut queue = VecDeque::new();
    let mut done = false;
    let (folded, later) = match start {
        Start::Sent(seq) => events.split_at(events.partition_point(|e| e.seq <= seq)),
        _ => (&events[..], &[][..]),
    };
    for e in folded {
        for u in tracker.apply(e) {
            if let Start::After(after) = start
                && u.id > after
            {
                if let Some(s) = u.state {
                    done = s.settled();
                }
                queue.push_back((u.id, u.body));
            }
        }
    }
    match start {
        Start::Snapshot | Start::Sent(_) => {
            if subscribe && tracker.state.terminal() {
                return Err(A2aError::Unsupported(format!(
                    "task {id} has ended; there is nothing to subscribe to"
                )));
            }
            let inbound = match &row.session_id {
                Some(s) => engine.store.messages(s, Some(id)).await?,
                None => Vec::new(),
            };
            let task = tracker.task(&inbound, None, true);
            queue.push_back((
                tracker.seq * SLOTS + SLOTS - 1,
                serde_json::json!({ "task": task }),
            ));
            done = tracker.state.terminal();
        }
        Start::After(_) => {
            if queue.is_empty() && tracker.state.terminal() {
                done = true;
            }
        }
    }
    for e in later {
        for u in tracker.apply(e) {
            if let Some(s) = u.state {
                done = s.settled();
            }
            queue.push_back((u.id, u.body));
        }
    }
    let follower = Follower::new(engine, id.to_string(), tracker.seq);
    let feed = Feed {
        tracker,
        follower,
        queue,
        done,
        render,
    };
    let events = stream::unfold(feed, |mut f| async move {
        let (id, body) = f.next().await?;
        let event = Event::default().id(id.to_string()).data((f.render)(&body));
        Some((Ok::<_, Infallible>(event), f))
    });
    Ok(Sse::new(events)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response())
}

impl Feed {
    async fn next(&mut self) -> Option<(i64, Value)> {
        loop {
            if let Some(item) = self.queue.pop_front() {
                return Some(item);
            }
            if self.done {
                return None;
            }
            let row = self.follower.next().await?;
            for u in self.tracker.apply(&row) {
                if u.state.is_some_and(|s| s.settled()) {
                    self.done = true;
                }
                self.queue.push_back((u.id, u.body));
            }
        }
    }
}
