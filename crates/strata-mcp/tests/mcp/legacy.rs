//! The legacy HTTP+SSE transport (2024-11-05): GET the event stream, POST to its endpoint.

use std::time::Duration;

use serde_json::json;
use strata_testkit::McpFixture;

use crate::harness::Events;
use crate::transport::gateway_for;

#[tokio::test]
async fn an_old_client_talks_over_the_event_stream() {
    let fixture = McpFixture::start().await.expect("fixture");
    let gateway = gateway_for(&fixture).await;
    let http = reqwest::Client::new();
    let stream = http
        .get(format!("{}/sse", gateway.url("conf")))
        .header("accept", "text/event-stream")
        .send()
        .await
        .expect("GET");
    assert_eq!(stream.status(), 200);
    let mut events = Events::new(stream);
    let endpoint = events.next().await.expect("the endpoint event");
    let path = endpoint.raw.expect("endpoint data");
    assert!(path.starts_with("/mcp/conf/message?sessionId="), "{path}");
    let post_url = format!("http://{}{path}", gateway.addr);
    let post = |body: serde_json::Value| http.post(&post_url).json(&body).send();

    let init = post(json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2024-11-05", "capabilities": {}, "clientInfo": {"name": "old", "version": "1"}}}))
    .await
    .expect("POST");
    assert_eq!(init.status(), 202);
    let answer = events.next_message().await.expect("initialize result");
    assert_eq!(
        answer["result"]["protocolVersion"], "2024-11-05",
        "{answer}"
    );
    post(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
        .await
        .expect("POST");

    post(json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "test_simple_text", "arguments": {}}}))
        .await
        .expect("POST");
    let result = events.next_message().await.expect("tool result");
    assert_eq!(result["id"], 2);
    assert_eq!(result["result"]["content"][0]["type"], "text", "{result}");
    assert_eq!(gateway.deps.session_count(), 1);

    let unknown = http
        .post(format!("{}/message?sessionId=nope", gateway.url("conf")))
        .json(&json!({"jsonrpc": "2.0", "id": 3, "method": "ping"}))
        .send()
        .await
        .expect("POST");
    assert_eq!(unknown.status(), 404);

    drop(events);
    for _ in 0..100 {
        if gateway.deps.session_count() == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("closing the event stream did not end the session");
}

/// A gateway whose upstream speaks only the legacy transport: here another gateway's
/// `/mcp/{server}/sse`, in front of the fixture.
#[tokio::test]
async fn a_legacy_sse_upstream_serves_calls_and_server_requests() {
    let fixture = McpFixture::start().await.expect("fixture");
    let inner = gateway_for(&fixture).await;
    let outer = crate::harness::Gateway::start(&format!(
        "upstreams:\n  - {{ name: old, url: \"{}/sse\", transport: sse }}\nservers:\n  - {{ name: chain, upstreams: [old] }}\n",
        inner.url("conf")
    ))
    .await;
    let mut client = crate::harness::Client::new(outer.url("chain"));
    client.initialize("2025-11-25").await;
    let text = client
        .call(
            "tools/call",
            json!({"name": "test_simple_text", "arguments": {}}),
        )
        .await;
    assert_eq!(text["content"][0]["type"], "text", "{text}");

    let result = client.sample_through(8, "via-two-gateways").await;
    assert!(result.to_string().contains("via-two-gateways"), "{result}");
}
