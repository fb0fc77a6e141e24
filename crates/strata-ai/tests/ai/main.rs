//! The ai layer end to end (in-process router, real HTTP to the project's mock provider server).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod anthropic_upstreams;
mod auth;
mod azure_embeddings;
mod chat;
mod connections;
mod gemini_upstreams;
mod golden_pairs;
mod retries;
mod routing;
mod streaming;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, header};
use serde_json::Value;
use tower::ServiceExt;

/// The ai layer built from `yaml` (the `ai:` section and anything else).
pub fn gateway(yaml: &str) -> Router {
    let config = strata_config::load_str(yaml, "test.yaml", &|_| None).unwrap();
    strata_ai::build(
        &config,
        &strata_ai::Deps::new(strata_telemetry::Metrics::new()),
    )
    .unwrap()
}

/// A chat completions POST.
pub fn chat_request(body: &Value) -> Request<Body> {
    Request::post("/v1/chat/completions")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::AUTHORIZATION, "Bearer client-key-must-not-leak")
        .body(Body::from(body.to_string()))
        .unwrap()
}

/// Sends a request; returns status, headers and the whole body.
pub async fn send(app: &Router, request: Request<Body>) -> (u16, HeaderMap, Vec<u8>) {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, headers, body.to_vec())
}

pub fn json(body: &[u8]) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(body)))
}

/// The `data:` payloads of an SSE body.
pub fn sse_data(body: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(body)
        .split("\n\n")
        .filter_map(|event| event.strip_prefix("data: "))
        .map(str::to_string)
        .collect()
}
