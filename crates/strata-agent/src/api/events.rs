//! `GET /v1/runs/{id}/events`: the run's journal as Server-Sent Events (`id` is the journal
//! sequence number), from after `Last-Event-ID`, following new events until the run ends.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream;
use serde_json::Value;
use strata_store::EventRow;
use tokio::sync::broadcast;

use super::Api;
use crate::{AgentError, EngineError};

struct Follow {
    api: Arc<Api>,
    run: String,
    after: i64,
    buffer: VecDeque<EventRow>,
    journal: broadcast::Receiver<String>,
    done: bool,
}

pub(super) async fn stream(
    State(api): State<Arc<Api>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, AgentError> {
    api.authenticate(&headers)?;
    if api.engine.store.run(&id).await?.is_none() {
        return Err(EngineError::UnknownRun(id).into());
    }
    let after = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok())
        .unwrap_or(0);
    let follow = Follow {
        journal: api.engine.subscribe(),
        api,
        run: id,
        after,
        buffer: VecDeque::new(),
        done: false,
    };
    let events = stream::unfold(follow, |mut f| async move {
        let event = f.next().await?;
        Some((Ok::<_, Infallible>(event), f))
    });
    Ok(Sse::new(events)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response())
}

impl Follow {
    async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(row) = self.buffer.pop_front() {
                self.after = row.seq;
                if row.kind == "run_finished" {
                    self.done = true;
                }
                let data: Value = serde_json::from_str(&row.data).unwrap_or(Value::Null);
                let mut payload = serde_json::json!({ "seq": row.seq, "ts_ms": row.ts_ms });
                if let (Value::Object(p), Value::Object(d)) = (&mut payload, data) {
                    p.extend(d);
                }
                return Some(
                    Event::default()
                        .id(row.seq.to_string())
                        .event(row.kind)
                        .data(payload.to_string()),
                );
            }
            if self.done {
                return None;
            }
            match self
                .api
                .engine
                .store
                .run_events(&self.run, self.after, 256)
                .await
            {
                Ok(rows) if !rows.is_empty() => {
                    self.buffer.extend(rows);
                    continue;
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(run = %self.run, error = %e, "reading the run journal failed");
                    return None;
                }
            }
            // Wait for this process to journal more, or poll for other processes.
            let _ = tokio::time::timeout(Duration::from_millis(500), async {
                loop {
                    match self.journal.recv().await {
                        Ok(run) if run == self.run => return,
                        Ok(_) => {}
                        Err(broadcast::error::RecvError::Lagged(_)) => return,
                        Err(broadcast::error::RecvError::Closed) => {
                            std::future::pending::<()>().await;
                        }
                    }
                }
            })
            .await;
        }
    }
}
