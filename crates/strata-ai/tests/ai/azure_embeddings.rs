//! Azure OpenAI deployments and the embeddings endpoint.

use axum::body::Body;
use axum::http::Request;
use serde_json::json;
use strata_testkit::MockLlm;

use crate::{chat_request, gateway, json, send, sse_data};

fn embeddings_request(body: &serde_json::Value) -> Request<Body> {
    Request::post("/v1/embeddings")
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

fn azure(root: &str) -> String {
    format!(
        "ai:\n  providers:\n    - {{ name: azure, api_base: '{root}', api_key: az-key, api_version: 2024-06-01, models: [gpt-4o-prod, embed-prod] }}\n"
    )
}

#[tokio::test]
async fn azure_deployments_get_their_path_version_and_key() {
    let upstream = MockLlm::start().await;
    let app = gateway(&azure(&upstream.root_url));
    let req =
        json!({ "model": "gpt-4o-prod", "messages": [{ "role": "user", "content": "hi azure" }] });
    let (status, headers, body) = send(&app, chat_request(&req)).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(
        json(&body)["choices"][0]["message"]["content"],
        "mock: hi azure"
    );
    assert_eq!(headers["x-strata-provider"], "azure");
    let seen = &upstream.received()[0];
    assert_eq!(
        seen.path,
        "/openai/deployments/gpt-4o-prod/chat/completions?api-version=2024-06-01"
    );
    assert_eq!(seen.headers["api-key"], "az-key");
    assert!(seen.headers.get("authorization").is_none());
    assert_eq!(seen.body, req);

    let req = json!({ "model": "gpt-4o-prod", "stream": true, "messages": [{ "role": "user", "content": "s" }] });
    let (status, _, body) = send(&app, chat_request(&req)).await;
    assert_eq!(status, 200);
    assert_eq!(sse_data(&body).last().unwrap(), "[DONE]");
}

#[tokio::test]
async fn embeddings_from_the_mock_openai_and_azure() {
    let (openai, az) = (MockLlm::start().await, MockLlm::start().await);
    let yaml = format!(
        "ai:\n  providers:\n    - {{ name: mock, models: [mock-embed] }}\n    - {{ name: up, kind: openai, api_base: '{}', models: [text-embed] }}\n    - {{ name: azure, api_base: '{}', models: [embed-prod] }}\n",
        openai.base_url, az.root_url
    );
    let app = gateway(&yaml);
    let mut vectors = Vec::new();
    for model in ["mock-embed", "text-embed", "embed-prod"] {
        let (status, headers, body) = send(
            &app,
            embeddings_request(&json!({ "model": model, "input": ["same text", "other"] })),
        )
        .await;
        assert_eq!(status, 200, "{model}: {}", String::from_utf8_lossy(&body));
        let body = json(&body);
        assert_eq!(body["object"], "list");
        assert_eq!(body["data"].as_array().unwrap().len(), 2);
        assert!(body["usage"]["prompt_tokens"].as_u64().unwrap() > 0);
        assert!(headers.contains_key("x-strata-provider"));
        vectors.push(body["data"][0]["embedding"].clone());
    }
    // The same deterministic mock behind every route: the same text, the same vector.
    assert_eq!(vectors[0], vectors[1]);
    assert_eq!(vectors[1], vectors[2]);
    assert_eq!(openai.received()[0].path, "/v1/embeddings");
    assert!(
        az.received()[0]
            .path
            .starts_with("/openai/deployments/embed-prod/embeddings?api-version=")
    );
}

#[tokio::test]
async fn embeddings_need_a_provider_that_has_them() {
    let app = gateway(
        "ai:\n  retry: { attempts: 0 }\n  providers:\n    - { name: anthropic, api_base: 'http://127.0.0.1:9', models: [claude-x] }\n",
    );
    let (status, _, body) = send(
        &app,
        embeddings_request(&json!({ "model": "claude-x", "input": "x" })),
    )
    .await;
    assert_eq!(status, 502);
    let message = json(&body)["error"]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        message.contains("embeddings is not supported for provider kind Anthropic"),
        "{message}"
    );
    let app = gateway("ai:\n  providers:\n    - { name: mock, models: [m] }\n");
    let (status, _, body) = send(&app, embeddings_request(&json!({ "model": "m" }))).await;
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
}
