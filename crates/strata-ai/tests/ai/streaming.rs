//! Streams pass chunks on as they arrive, and a stream that breaks off ends with an error event.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::json;
use strata_testkit::{Behavior, MockLlm};
use tower::ServiceExt;

use crate::{chat_request, gateway, sse_data};

fn upstream_yaml(url: &str) -> String {
    format!(
        "ai:\n  providers:\n    - {{ name: up, kind: openai, api_base: '{url}', models: [s] }}\n"
    )
}

fn stream_request() -> serde_json::Value {
    json!({ "model": "s", "stream": true, "messages": [{ "role": "user", "content": "a b c d e f" }] })
}

#[tokio::test]
async fn chunks_leave_as_they_arrive() {
    let upstream = MockLlm::start().await;
    upstream.set_chunk_delay(Duration::from_millis(150));
    let app = gateway(&upstream_yaml(&upstream.base_url));
    let started = Instant::now();
    let response = app.oneshot(chat_request(&stream_request())).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut body = response.into_body().into_data_stream();
    let mut arrivals = Vec::new();
    let mut all = Vec::new();
    while let Some(chunk) = body.next().await {
        arrivals.push(started.elapsed());
        all.extend_from_slice(&chunk.unwrap());
    }
    // 10 upstream chunks 150 ms apart: the first must not wait for the last.
    assert!(arrivals.len() >= 5, "{arrivals:?}");
    assert!(arrivals[0] < Duration::from_millis(600), "{arrivals:?}");
    assert!(
        *arrivals.last().unwrap() - arrivals[0] > Duration::from_millis(600),
        "{arrivals:?}"
    );
    assert_eq!(sse_data(&all).last().unwrap(), "[DONE]");
}

#[tokio::test]
async fn a_broken_stream_ends_with_an_error_event() {
    let upstream = MockLlm::start().await;
    upstream.script([Behavior::BreakAfter(3)]);
    // Paced, so the first chunks are on the wire before the cut.
    upstream.set_chunk_delay(Duration::from_millis(20));
    let app = gateway(&upstream_yaml(&upstream.base_url));
    let response = app.oneshot(chat_request(&stream_request())).await.unwrap();
    assert_eq!(response.status(), 200);
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let events = sse_data(&body);
    assert_eq!(events.len(), 4, "{events:?}");
    let last: serde_json::Value = serde_json::from_str(events.last().unwrap()).unwrap();
    assert_eq!(last["error"]["code"], "upstream_stream_error");
}
