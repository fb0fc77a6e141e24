//! Gemini providers, reached from OpenAI and Anthropic clients.

use axum::body::Body;
use axum::http::Request;
use serde_json::json;
use strata_testkit::MockLlm;

use crate::{chat_request, gateway, json, send, sse_data};

fn gemini(root: &str) -> String {
    format!(
        "ai:\n  providers:\n    - {{ name: gemini, api_base: '{root}/v1beta', api_key: g-key, models: [gemini-x] }}\n"
    )
}

#[tokio::test]
async fn openai_clients_reach_gemini() {
    let upstream = MockLlm::start().await;
    let app = gateway(&gemini(&upstream.root_url));
    let req = json!({ "model": "gemini-x", "messages": [{ "role": "system", "content": "s" }, { "role": "user", "content": "hi gemini" }] });
    let (status, headers, body) = send(&app, chat_request(&req)).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let body = json(&body);
    assert_eq!(body["choices"][0]["message"]["content"], "mock: hi gemini");
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    assert_eq!(headers["x-strata-provider"], "gemini");
    let seen = &upstream.received()[0];
    assert_eq!(seen.path, "/v1beta/models/gemini-x:generateContent");
    assert_eq!(seen.headers["x-goog-api-key"], "g-key");
    assert_eq!(
        seen.body["systemInstruction"],
        json!({ "parts": [{ "text": "s" }] })
    );
    assert!(seen.body.get("model").is_none(), "the model is in the URL");

    let req = json!({ "model": "gemini-x", "stream": true, "stream_options": { "include_usage": true },
        "messages": [{ "role": "user", "content": "a b c" }] });
    let (status, _, body) = send(&app, chat_request(&req)).await;
    assert_eq!(status, 200);
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
        chunks.last().unwrap()["usage"]["total_tokens"]
            .as_u64()
            .unwrap()
            > 0
    );
    assert_eq!(
        upstream.received()[1].path,
        "/v1beta/models/gemini-x:streamGenerateContent?alt=sse"
    );
}

#[tokio::test]
async fn anthropic_clients_reach_gemini_with_tools() {
    let upstream = MockLlm::start().await;
    let app = gateway(&gemini(&upstream.root_url));
    let req = json!({ "model": "gemini-x", "max_tokens": 50, "stream": true,
        "tools": [{ "name": "lookup", "input_schema": { "type": "object" } }],
        "messages": [{ "role": "user", "content": "find it" }] });
    let request = Request::post("/v1/messages")
        .header("content-type", "application/json")
        .body(Body::from(req.to_string()))
        .unwrap();
    let (status, _, body) = send(&app, request).await;
    assert_eq!(status, 200);
    let text = String::from_utf8_lossy(&body);
    assert!(
        text.contains("\"type\":\"tool_use\"") && text.contains("\"name\":\"lookup\""),
        "{text}"
    );
    assert!(
        text.contains("\"stop_reason\":\"tool_use\"")
            && text.ends_with("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"),
        "{text}"
    );
}
