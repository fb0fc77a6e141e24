//! The MCP fixture server, started in-process and driven with plain JSON-RPC over HTTP.

use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use strata_testkit::McpFixture;

const ACCEPT: &str = "application/json, text/event-stream";

/// The JSON-RPC message answering `id` in a JSON or SSE response body.
fn answer(content_type: &str, body: &str, id: &Value) -> Value {
    let messages: Vec<Value> = if content_type.starts_with("text/event-stream") {
        body.lines()
            .filter_map(|line| line.strip_prefix("data:"))
            .filter_map(|data| serde_json::from_str(data.trim()).ok())
            .collect()
    } else {
        serde_json::from_str(body).into_iter().collect()
    };
    messages
        .into_iter()
        .find(|m| &m["id"] == id)
        .unwrap_or_else(|| panic!("no answer to {id} in {body:?}"))
}

async fn post(
    client: &reqwest::Client,
    url: &str,
    headers: HeaderMap,
    message: &Value,
) -> (reqwest::StatusCode, HeaderMap, String) {
    let response = client
        .post(url)
        .header("accept", ACCEPT)
        .headers(headers)
        .json(message)
        .send()
        .await
        .expect("request sent");
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.text().await.expect("body read");
    (status, headers, body)
}

fn content_type(headers: &HeaderMap) -> String {
    headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn session_initialize_list_and_call() {
    let server = McpFixture::start().await.expect("fixture starts");
    let url = server.url();
    let client = reqwest::Client::new();

    let init = json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": { "name": "strata-testkit-it", "version": "0" }
        }
    });
    let (status, headers, body) = post(&client, &url, HeaderMap::new(), &init).await;
    assert_eq!(status, 200, "{body}");
    let result = &answer(&content_type(&headers), &body, &json!(1))["result"];
    assert_eq!(result["protocolVersion"], "2025-11-25");
    assert_eq!(result["serverInfo"]["name"], "strata-mcp-fixture");
    assert!(result["capabilities"]["tools"].is_object());
    let session = headers.get("mcp-session-id").expect("a session id").clone();

    let mut in_session = HeaderMap::new();
    in_session.insert("mcp-session-id", session);
    in_session.insert(
        "mcp-protocol-version",
        "2025-11-25".parse().expect("header"),
    );
    let initialized = json!({ "jsonrpc": "2.0", "method": "notifications/initialized" });
    let (status, _, _) = post(&client, &url, in_session.clone(), &initialized).await;
    assert_eq!(status, 202);

    let list = json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/list" });
    let (status, headers, body) = post(&client, &url, in_session.clone(), &list).await;
    assert_eq!(status, 200, "{body}");
    let tools = answer(&content_type(&headers), &body, &json!(2))["result"]["tools"].clone();
    let names: Vec<&str> = tools
        .as_array()
        .expect("a tools array")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    for expected in [
        "test_simple_text",
        "test_sampling",
        "json_schema_2020_12_tool",
    ] {
        assert!(names.contains(&expected), "{expected} in {names:?}");
    }

    let call = json!({
        "jsonrpc": "2.0", "id": 3, "method": "tools/call",
        "params": { "name": "test_simple_text", "arguments": {} }
    });
    let (status, headers, body) = post(&client, &url, in_session, &call).await;
    assert_eq!(status, 200, "{body}");
    let result = &answer(&content_type(&headers), &body, &json!(3))["result"];
    assert_eq!(
        result["content"][0]["text"],
        "This is a simple text response for testing."
    );
    assert_ne!(result["isError"], true);

    server.stop().await;
}

#[tokio::test]
async fn stateless_2026_07_28_call() {
    let server = McpFixture::start().await.expect("fixture starts");
    let client = reqwest::Client::new();
    let mut headers = HeaderMap::new();
    headers.insert(
        "mcp-protocol-version",
        "2026-07-28".parse().expect("header"),
    );
    headers.insert("mcp-method", "tools/call".parse().expect("header"));
    headers.insert("mcp-name", "test_simple_text".parse().expect("header"));
    let call = json!({
        "jsonrpc": "2.0", "id": "a", "method": "tools/call",
        "params": {
            "name": "test_simple_text",
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientCapabilities": {}
            }
        }
    });
    let (status, response_headers, body) = post(&client, &server.url(), headers, &call).await;
    assert_eq!(status, 200, "{body}");
    assert!(response_headers.get("mcp-session-id").is_none());
    let result = &answer(&content_type(&response_headers), &body, &json!("a"))["result"];
    assert_eq!(result["resultType"], "complete");
    assert_eq!(
        result["content"][0]["text"],
        "This is a simple text response for testing."
    );
}

#[tokio::test]
async fn foreign_host_is_rejected() {
    let server = McpFixture::start().await.expect("fixture starts");
    let init = json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": { "name": "x", "version": "0" }
        }
    });
    let mut headers = HeaderMap::new();
    headers.insert("host", "evil.example.com".parse().expect("header"));
    let (status, _, _) = post(&reqwest::Client::new(), &server.url(), headers, &init).await;
    assert_eq!(status, 403);
}
