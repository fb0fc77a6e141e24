//! `GET /v1/runs/{id}/events`: the run's journal as Server-Sent Events (`id` is the journal
//! sequence number), from after `Last-Event-ID`, following new events until the run ends.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream;
use serde_json::Value;

use super::Api;
use crate::AgentError;
use crate::engine::follow::Follower;

pub(super) async fn stream(
    State(api): State<Arc<Api>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, AgentError> {
    api.visible_run(&headers, &id).await?;
    let after = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok())
        .unwrap_or(0);
    let follow = Follower::new(api.engine.clone(), id, after);
    let events = stream::unfold(follow, |mut f| async move {
        let row = f.next().await?;
        let data: Value = serde_json::from_str(&row.data).unwrap_or(Value::Null);
        let mut payload = serde_json::json!({ "seq": row.seq, "ts_ms": row.ts_ms });
        if let (Value::Object(p), Value::Object(d)) = (&mut payload, data) {
            p.extend(d);
        }
        let event = Event::default()
            .id(row.seq.to_string())
            .event(row.kind)
            .data(payload.to_string());
        Some((Ok::<_, Infallible>(event), f))
    });
    Ok(Sse::new(events)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response())
}
