//! Anthropic providers: OpenAI clients translated to them, Anthropic clients passed through.

use axum::body::Body;
use axum::http::Request;
use serde_json::json;
use strata_testkit::{Behavior, MockLlm};

use crate::{chat_request, gateway, json, send, sse_data};

fn anthropic_provider(url: &str) -> String {
    format!(
        "ai:\n  retry: {{ attempts: 0 }}\n  providers:\n    - {{ name: claude, kind: anthropic, api_base: '{url}', api_key: sk-ant-provider, models: [claude-x], fallback: backup }}\n    - {{ name: backup, kind: mock, models: [mock-1] }}\n"
    )
}

fn messages_request(body: &serde_json::Value) -> Request<Body> {
    Request::post("/v1/messages")
        .header("content-type", "application/json")
        .header("x-api-key", "sk-client-must-not-leak")
        .body(Body::from(body.to_string()))
        .unwrap()
}

#[tokio::test]
async fn openai_clients_reach_anthropic_providers() {
    let upstream = MockLlm::start().await;
    let app = gateway(&anthropic_provider(&upstream.base_url));
    let req = json!({ "model": "claude-x", "max_tokens": 50,
        "messages": [{ "role": "system", "content": "sys" }, { "role": "user", "content": "hi there" }] });
    let (status, headers, body) = send(&app, chat_request(&req)).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let body = json(&body);
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["choices"][0]["message"]["content"], "mock: hi there");
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    assert!(body["usage"]["total_tokens"].as_u64().unwrap() > 0);
    assert_eq!(headers["x-strata-provider"], "claude");

    let seen = &upstream.received()[0];
    assert_eq!(seen.body["system"], "sys");
    assert_eq!(seen.body["max_tokens"], 50);
    assert_eq!(
        seen.body["messages"],
        json!([{ "role": "user", "content": [{ "type": "text", "text": "hi there" }] }])
    );
    assert_eq!(seen.headers["x-api-key"], "sk-ant-provider");
    assert_eq!(seen.headers["anthropic-version"], "2023-06-01");
    assert!(seen.headers.get("authorization").is_none());
}

#[tokio::test]
async fn openai_streams_from_anthropic_providers() {
    let upstream = MockLlm::start().await;
    let app = gateway(&anthropic_provider(&upstream.base_url));
    let req = json!({ "model": "claude-x", "stream": true, "stream_options": { "include_usage": true },
        "messages": [{ "role": "user", "content": "a b c" }] });
    let (status, headers, body) = send(&app, chat_request(&req)).await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "text/event-stream");
    let events = sse_data(&body);
    assert_eq!(events.last().unwrap(), "[DONE]");
    let chunks: Vec<serde_json::Value> = events[..events.len() - 1]
        .iter()
        .map(|e| json(e.as_bytes()))
        .collect();
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, "mock: a b c");
    assert!(
        chunks
            .iter()
            .any(|c| c["choices"][0]["finish_reason"] == "stop")
    );
    assert!(
        chunks.last().unwrap()["usage"]["completion_tokens"]
            .as_u64()
            .unwrap()
            > 0
    );
}

#[tokio::test]
async fn anthropic_clients_pass_through_to_anthropic_providers() {
    let upstream = MockLlm::start().await;
    let app = gateway(&anthropic_provider(&upstream.base_url));
    // Fields Strata does not know (cache_control, thinking) must arrive untouched.
    let req = json!({ "model": "claude-x", "max_tokens": 64, "thinking": { "type": "enabled", "budget_tokens": 1024 },
        "system": [{ "type": "text", "text": "long prompt", "cache_control": { "type": "ephemeral" } }],
        "messages": [{ "role": "user", "content": "pass me through" }] });
    let (status, headers, body) = send(&app, messages_request(&req)).await;
    assert_eq!(status, 200);
    let body = json(&body);
    assert_eq!(body["type"], "message");
    assert_eq!(body["content"][0]["text"], "mock: pass me through");
    assert_eq!(headers["x-strata-provider"], "claude");
    let seen = &upstream.received()[0];
    assert_eq!(seen.body, req);
    assert_eq!(seen.headers["x-api-key"], "sk-ant-provider");
}

#[tokio::test]
async fn anthropic_provider_errors_reach_openai_clients_in_their_shape() {
    let upstream = MockLlm::start().await;
    upstream.script([Behavior::Status(429, Some(3))]);
    let yaml = format!(
        "ai:\n  retry: {{ attempts: 0 }}\n  providers:\n    - {{ name: claude, kind: anthropic, api_base: '{}', models: [claude-x] }}\n",
        upstream.base_url
    );
    let app = gateway(&yaml);
    let req = json!({ "model": "claude-x", "messages": [{ "role": "user", "content": "x" }] });
    let (status, headers, body) = send(&app, chat_request(&req)).await;
    assert_eq!(status, 429);
    assert_eq!(headers["retry-after"], "3");
    let body = json(&body);
    assert_eq!(body["error"]["message"], "mock says 429");
    assert_eq!(body["error"]["type"], "rate_limit_error");
}

#[tokio::test]
async fn a_failing_anthropic_provider_falls_back_for_anthropic_clients() {
    let upstream = MockLlm::start().await;
    upstream.script([Behavior::Status(529, None)]);
    let app = gateway(&anthropic_provider(&upstream.base_url));
    let req = json!({ "model": "claude-x", "max_tokens": 20, "messages": [{ "role": "user", "content": "fallback" }] });
    let (status, headers, body) = send(&app, messages_request(&req)).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(headers["x-strata-provider"], "backup");
    assert_eq!(headers["x-strata-model"], "mock-1");
    let body = json(&body);
    assert_eq!(body["content"][0]["text"], "mock: fallback");
    assert_eq!(body["model"], "mock-1");
}

#[tokio::test]
async fn anthropic_clients_get_anthropic_errors() {
    let app = gateway(&anthropic_provider("http://127.0.0.1:9"));
    let (status, _, body) = send(
        &app,
        messages_request(&json!({ "max_tokens": 1, "messages": [] })),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        json(&body),
        json!({ "type": "error", "error": { "type": "invalid_request_error", "message": "model: Field required" } })
    );
    let (status, _, body) = send(
        &app,
        messages_request(&json!({ "model": "nope", "max_tokens": 1, "messages": [] })),
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(json(&body)["error"]["type"], "not_found_error");
}
