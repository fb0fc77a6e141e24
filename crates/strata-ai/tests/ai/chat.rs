use axum::body::Body;
use axum::http::Request;
use serde_json::json;
use strata_testkit::MockLlm;

use crate::{chat_request, gateway, json, send, sse_data};

const MOCK: &str = "ai:\n  providers:\n    - { name: mock, models: [mock-1] }\n";

#[tokio::test]
async fn the_builtin_mock_answers_in_openai_shape() {
    let app = gateway(MOCK);
    let req = json!({ "model": "mock-1", "messages": [{ "role": "user", "content": "hi" }] });
    let (status, headers, body) = send(&app, chat_request(&req)).await;
    assert_eq!(status, 200);
    let body = json(&body);
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["model"], "mock-1");
    assert_eq!(body["choices"][0]["message"]["content"], "mock: hi");
    assert_eq!(headers["x-strata-provider"], "mock");
    assert_eq!(headers["x-strata-model"], "mock-1");
    assert_eq!(headers["x-strata-attempts"], "1");
}

#[tokio::test]
async fn the_builtin_mock_streams_sse_with_usage_and_done() {
    let app = gateway(MOCK);
    let req = json!({ "model": "mock-1", "stream": true, "stream_options": { "include_usage": true },
        "messages": [{ "role": "user", "content": "one two" }] });
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
    assert_eq!(text, "mock: one two");
    assert!(
        chunks.last().unwrap()["usage"]["total_tokens"]
            .as_u64()
            .unwrap()
            > 0
    );
}

#[tokio::test]
async fn bodies_pass_through_to_an_openai_compatible_upstream() {
    let upstream = MockLlm::start().await;
    let app = gateway(&format!(
        "ai:\n  providers:\n    - {{ name: up, kind: openai, api_base: '{}', api_key: sk-provider, models: [gpt-x], headers: {{ X-Org: acme }} }}\n",
        upstream.base_url
    ));
    let req = json!({ "model": "gpt-x", "messages": [{ "role": "user", "content": "pass" }],
        "temperature": 0.25, "response_format": { "type": "json_object" }, "vendor_extra": [1, 2] });
    let (status, headers, body) = send(&app, chat_request(&req)).await;
    assert_eq!(status, 200);
    assert_eq!(
        json(&body)["choices"][0]["message"]["content"],
        "mock: pass"
    );
    assert_eq!(headers["x-strata-provider"], "up");
    let seen = &upstream.received()[0];
    // The body arrives as sent, unknown fields included; the provider's key replaces the
    // client's, which is never forwarded.
    assert_eq!(seen.body, req);
    assert_eq!(seen.headers["authorization"], "Bearer sk-provider");
    assert_eq!(seen.headers["x-org"], "acme");
    assert!(!format!("{:?}", seen.headers).contains("client-key-must-not-leak"));
}

#[tokio::test]
async fn bad_requests_get_openai_errors() {
    let app = gateway(MOCK);
    let bad_json = Request::post("/v1/chat/completions")
        .header("content-type", "application/json")
        .body(Body::from("{not json"))
        .unwrap();
    let (status, _, body) = send(&app, bad_json).await;
    assert_eq!(status, 400);
    let body = json(&body);
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not valid JSON")
    );

    let (status, _, body) = send(&app, chat_request(&json!({ "messages": [] }))).await;
    assert_eq!(status, 400);
    assert_eq!(
        json(&body)["error"]["message"],
        "you must provide a model parameter"
    );

    let (status, _, body) = send(
        &app,
        chat_request(&json!({ "model": "nope", "messages": [] })),
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(json(&body)["error"]["code"], "model_not_found");
}

#[tokio::test]
async fn models_are_listed_once_by_priority() {
    let app = gateway(
        "ai:\n  providers:\n    - { name: mock, models: [a, b], priority: low }\n    - { name: second, kind: mock, models: [b, c], priority: high }\n",
    );
    let req = Request::get("/v1/models").body(Body::empty()).unwrap();
    let (status, _, body) = send(&app, req).await;
    assert_eq!(status, 200);
    let ids: Vec<(String, String)> = json(&body)["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["id"].as_str().unwrap().into(),
                m["owned_by"].as_str().unwrap().into(),
            )
        })
        .collect();
    let s = |a: &str, b: &str| (a.to_string(), b.to_string());
    assert_eq!(ids, [s("b", "second"), s("c", "second"), s("a", "mock")]);
}

#[tokio::test]
async fn a_body_over_the_limit_gets_413_in_each_apis_shape() {
    let app = gateway(MOCK);
    let huge = format!(
        r#"{{"model":"mock-1","messages":[{{"role":"user","content":"{}"}}]}}"#,
        "x".repeat(64 * 1024 * 1024)
    );
    for (path, openai_shape) in [("/v1/chat/completions", true), ("/v1/messages", false)] {
        let request = Request::post(path)
            .header("content-type", "application/json")
            .header("content-length", huge.len())
            .body(Body::from(huge.clone()))
            .unwrap();
        let (status, _, body) = send(&app, request).await;
        assert_eq!(status, 413, "{path}");
        let body = json(&body);
        if openai_shape {
            assert_eq!(body["error"]["code"], "request_too_large");
        } else {
            assert_eq!(body["error"]["type"], "request_too_large");
        }
    }
}
