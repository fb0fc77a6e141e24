//! Priority, fallback and failure relaying against real HTTP upstreams.

use axum::http::Request;
use serde_json::json;
use strata_testkit::{Behavior, MockLlm, free_port};

use crate::{chat_request, gateway, json, send};

/// Two providers, `primary` falling back to `backup`, without retries (see `retries.rs`).
pub fn two_providers(first: &str, second: &str) -> String {
    format!(
        "ai:\n  retry: {{ attempts: 0 }}\n  providers:\n    - {{ name: primary, kind: openai, api_base: '{first}', models: [m1], priority: high, fallback: backup }}\n    - {{ name: backup, kind: openai, api_base: '{second}', models: [m2], priority: low }}\n"
    )
}

pub fn ask(model: &str) -> serde_json::Value {
    json!({ "model": model, "messages": [{ "role": "user", "content": "q" }] })
}

#[tokio::test]
async fn a_500_falls_back_to_the_named_provider_with_its_model() {
    let (a, b) = (MockLlm::start().await, MockLlm::start().await);
    a.script([Behavior::Status(500, None)]);
    let app = gateway(&two_providers(&a.base_url, &b.base_url));
    let (status, headers, body) = send(&app, chat_request(&ask("m1"))).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(headers["x-strata-provider"], "backup");
    assert_eq!(headers["x-strata-model"], "m2");
    assert_eq!(headers["x-strata-attempts"], "2");
    assert_eq!(json(&body)["model"], "m2");
    assert_eq!(a.received().len(), 1);
    // The fallback was asked for its own model; the rest of the body is unchanged.
    let seen = &b.received()[0].body;
    assert_eq!(seen["model"], "m2");
    assert_eq!(seen["messages"], ask("m1")["messages"]);
}

#[tokio::test]
async fn a_refused_connection_falls_back() {
    let b = MockLlm::start().await;
    let dead = format!("http://127.0.0.1:{}/v1", free_port());
    let app = gateway(&two_providers(&dead, &b.base_url));
    let (status, headers, _) = send(&app, chat_request(&ask("m1"))).await;
    assert_eq!(status, 200);
    assert_eq!(headers["x-strata-provider"], "backup");
}

#[tokio::test]
async fn client_errors_are_returned_without_fallback() {
    let (a, b) = (MockLlm::start().await, MockLlm::start().await);
    a.script([Behavior::Status(400, None)]);
    let app = gateway(&two_providers(&a.base_url, &b.base_url));
    let (status, _, body) = send(&app, chat_request(&ask("m1"))).await;
    assert_eq!(status, 400);
    assert_eq!(json(&body)["error"]["message"], "mock says 400");
    assert!(b.received().is_empty());
}

#[tokio::test]
async fn when_every_provider_is_rate_limited_the_last_429_is_relayed() {
    let (a, b) = (MockLlm::start().await, MockLlm::start().await);
    a.script([Behavior::Status(503, None)]);
    b.script([Behavior::Status(429, Some(7))]);
    let app = gateway(&two_providers(&a.base_url, &b.base_url));
    let (status, headers, body) = send(&app, chat_request(&ask("m1"))).await;
    assert_eq!(status, 429);
    assert_eq!(headers["retry-after"], "7");
    assert_eq!(json(&body)["error"]["message"], "mock says 429");
}

#[tokio::test]
async fn when_nobody_answers_the_error_is_a_502_in_openai_shape() {
    let dead = |_| format!("http://127.0.0.1:{}/v1", free_port());
    let app = gateway(&two_providers(&dead(0), &dead(1)));
    let (status, _, body) = send(&app, chat_request(&ask("m1"))).await;
    assert_eq!(status, 502);
    let body = json(&body);
    assert_eq!(body["error"]["type"], "api_error");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("after 2 attempt(s)") && message.contains("backup: cannot connect"),
        "{message}"
    );
}

#[tokio::test]
async fn a_provider_timeout_falls_back() {
    let (a, b) = (MockLlm::start().await, MockLlm::start().await);
    a.script([Behavior::Delay(std::time::Duration::from_secs(5))]);
    let yaml = two_providers(&a.base_url, &b.base_url).replace(
        "priority: high,",
        "priority: high, timeouts: { total: 200ms },",
    );
    let app = gateway(&yaml);
    let started = std::time::Instant::now();
    let (status, headers, _) = send(&app, chat_request(&ask("m1"))).await;
    assert_eq!(status, 200);
    assert_eq!(headers["x-strata-provider"], "backup");
    assert!(started.elapsed() < std::time::Duration::from_secs(3));
}

#[tokio::test]
async fn routes_are_virtual_models_over_targets() {
    let (a, b) = (MockLlm::start().await, MockLlm::start().await);
    let yaml = format!(
        "ai:\n  retry: {{ attempts: 0 }}\n  providers:\n    - {{ name: pa, kind: openai, api_base: '{}' }}\n    - {{ name: pb, kind: openai, api_base: '{}' }}\n  routes:\n    - {{ name: smart, targets: [{{ provider: pa, model: big-a }}, {{ provider: pb, model: big-b }}] }}\n    - {{ name: spread, strategy: weighted, targets: [{{ provider: pa, model: x }}, {{ provider: pb, model: y }}] }}\n",
        a.base_url, b.base_url
    );
    let app = gateway(&yaml);
    // Priority: the first target serves, asked for its own model.
    let (status, headers, body) = send(&app, chat_request(&ask("smart"))).await;
    assert_eq!(status, 200);
    assert_eq!(
        (
            headers["x-strata-provider"].to_str().unwrap(),
            headers["x-strata-model"].to_str().unwrap()
        ),
        ("pa", "big-a")
    );
    assert_eq!(json(&body)["model"], "big-a");
    // The next target is the fallback.
    a.script([Behavior::Status(503, None)]);
    let (_, headers, _) = send(&app, chat_request(&ask("smart"))).await;
    assert_eq!(headers["x-strata-provider"], "pb");
    assert_eq!(headers["x-strata-model"], "big-b");
    // Weighted 1:1 reaches both targets.
    let before = (a.received().len(), b.received().len());
    for _ in 0..40 {
        send(&app, chat_request(&ask("spread"))).await;
    }
    let (na, nb) = (a.received().len() - before.0, b.received().len() - before.1);
    assert_eq!(na + nb, 40);
    assert!(na >= 8 && nb >= 8, "{na} / {nb}");
    // Routes are listed as models.
    let req = Request::get("/v1/models")
        .body(axum::body::Body::empty())
        .unwrap();
    let (_, _, body) = send(&app, req).await;
    let ids: Vec<String> = json(&body)["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect();
    assert!(
        ids.contains(&"smart".to_string()) && ids.contains(&"spread".to_string()),
        "{ids:?}"
    );
}
