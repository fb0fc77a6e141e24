//! Golden tests per client API × provider kind: what the provider received and what the
//! client got back, whole and streamed, through the real dispatcher and the mock server.

use axum::body::Body;
use axum::http::Request;
use serde_json::{Value, json};
use strata_testkit::MockLlm;

use crate::{gateway, send};

/// Pins the fields that carry the clock.
fn pin(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("\"created") {
        let (head, tail) = rest.split_at(i);
        out.push_str(head);
        let key_end = tail.find(':').map_or(tail.len(), |k| k + 1);
        out.push_str(&tail[..key_end]);
        let after = &tail[key_end..];
        let digits = after
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(after.len());
        if digits > 0 {
            out.push('0');
            rest = &after[digits..];
        } else {
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

fn request_for(api: &str, model: &str, stream: bool) -> Request<Body> {
    let tools_openai = json!([{ "type": "function", "function": { "name": "lookup", "description": "Find", "parameters": { "type": "object" } } }]);
    let (path, body) = match api {
        "openai" => (
            "/v1/chat/completions",
            json!({ "model": model, "stream": stream, "stream_options": { "include_usage": true },
            "messages": [{ "role": "system", "content": "Be brief." }, { "role": "user", "content": "hello pair" }], "tools": tools_openai, "tool_choice": "none" }),
        ),
        "anthropic" => (
            "/v1/messages",
            json!({ "model": model, "max_tokens": 64, "stream": stream, "system": "Be brief.",
            "messages": [{ "role": "user", "content": "hello pair" }] }),
        ),
        _ => (
            "/v1/responses",
            json!({ "model": model, "stream": stream, "instructions": "Be brief.", "input": "hello pair" }),
        ),
    };
    Request::post(path)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

#[tokio::test]
async fn every_client_api_with_every_provider_kind() {
    let upstream = MockLlm::start().await;
    let yaml = format!(
        "ai:\n  retry: {{ attempts: 0 }}\n  providers:\n\
         \x20   - {{ name: openai-up, kind: openai, api_base: '{base}', models: [m-openai] }}\n\
         \x20   - {{ name: anthropic-up, kind: anthropic, api_base: '{base}', models: [m-anthropic] }}\n\
         \x20   - {{ name: gemini-up, kind: gemini, api_base: '{root}/v1beta', models: [m-gemini] }}\n\
         \x20   - {{ name: azure-up, kind: azure, api_base: '{root}', models: [m-azure] }}\n\
         \x20   - {{ name: mock, models: [m-mock] }}\n",
        base = upstream.base_url,
        root = upstream.root_url
    );
    let app = gateway(&yaml);
    for api in ["openai", "anthropic", "responses"] {
        for provider in ["openai", "anthropic", "gemini", "azure", "mock"] {
            for stream in [false, true] {
                let before = upstream.received().len();
                let (status, _, body) =
                    send(&app, request_for(api, &format!("m-{provider}"), stream)).await;
                let name = format!("{api}_to_{provider}{}", if stream { "_stream" } else { "" });
                assert_eq!(status, 200, "{name}: {}", String::from_utf8_lossy(&body));
                let sent: Value = upstream
                    .received()
                    .get(before)
                    .map_or(Value::Null, |r| json!({ "path": r.path, "body": r.body }));
                let answer = pin(&String::from_utf8_lossy(&body));
                insta::assert_snapshot!(
                    name,
                    format!(
                        "provider received:\n{}\n\nclient got:\n{answer}",
                        serde_json::to_string_pretty(&sent).unwrap()
                    )
                );
            }
        }
    }
}
