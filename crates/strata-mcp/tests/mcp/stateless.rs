//! The stateless revision (2026-07-28) over a virtual server with two upstreams: discovery and
//! lists merged, names prefixed, headers checked against the body.

use serde_json::{Value, json};
use strata_testkit::McpFixture;

use crate::harness::{Gateway, read};

const VERSION: &str = "2026-07-28";

fn meta() -> Value {
    json!({
        "io.modelcontextprotocol/protocolVersion": VERSION,
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "stateless-test", "version": "1"}
    })
}

/// POSTs a stateless message with the headers the revision asks for.
async fn send(url: &str, method: &str, name: Option<&str>, body: &Value) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .post(url)
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .header("mcp-protocol-version", VERSION)
        .header("mcp-method", method);
    if let Some(name) = name {
        request = request.header("mcp-name", name);
    }
    request.json(body).send().await.expect("POST")
}

async fn post(url: &str, method: &str, name: Option<&str>, mut params: Value) -> (u16, Value) {
    params["_meta"] = meta();
    let body = json!({"jsonrpc": "2.0", "id": 9, "method": method, "params": params});
    let reply = read(send(url, method, name, &body).await).await;
    (reply.status, reply.last().clone())
}

/// Opens a `subscriptions/listen` stream as request `id` for the tool and prompt list changes.
async fn listen(url: &str, id: i64) -> crate::harness::Events {
    let listen = json!({"jsonrpc": "2.0", "id": id, "method": "subscriptions/listen", "params": {
        "notifications": {"toolsListChanged": true, "promptsListChanged": true}, "_meta": meta()}});
    let response = send(url, "subscriptions/listen", None, &listen).await;
    assert_eq!(response.status(), 200);
    crate::harness::Events::new(response)
}

#[tokio::test]
async fn two_upstreams_answer_stateless_requests_as_one_server() {
    let one = McpFixture::start().await.expect("fixture");
    let two = McpFixture::start().await.expect("fixture");
    let gateway = Gateway::start(&format!(
        "upstreams:\n  - {{ name: one, url: \"{}\" }}\n  - {{ name: two, url: \"{}\" }}\nservers:\n  - {{ name: pair, upstreams: [one, two] }}\n",
        one.url(),
        two.url()
    ))
    .await;
    let url = gateway.url("pair");

    let (status, discover) = post(&url, "server/discover", None, json!({})).await;
    assert_eq!(status, 200, "{discover}");
    let result = &discover["result"];
    assert!(
        result["supportedVersions"]
            .as_array()
            .expect("versions")
            .contains(&json!(VERSION)),
        "{result}"
    );
    assert!(result["capabilities"]["tools"].is_object());
    assert_eq!(
        result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"],
        "strata/pair"
    );

    let (_, first) = post(&url, "tools/list", None, json!({})).await;
    let names: Vec<&str> = first["result"]["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert!(names.iter().all(|n| n.starts_with("one_")), "{names:?}");
    let cursor = first["result"]["nextCursor"]
        .as_str()
        .expect("a cursor to the second upstream");
    let (_, second) = post(&url, "tools/list", None, json!({"cursor": cursor})).await;
    let names: Vec<&str> = second["result"]["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert!(names.contains(&"two_test_simple_text"), "{names:?}");

    let (status, call) = post(
        &url,
        "tools/call",
        Some("two_test_simple_text"),
        json!({"name": "two_test_simple_text", "arguments": {}}),
    )
    .await;
    assert_eq!(status, 200, "{call}");
    assert_eq!(call["result"]["content"][0]["type"], "text", "{call}");

    let (status, mismatch) = post(
        &url,
        "tools/call",
        Some("one_test_simple_text"),
        json!({"name": "two_test_simple_text", "arguments": {}}),
    )
    .await;
    assert_eq!(
        (status, mismatch["error"]["code"].as_i64()),
        (400, Some(-32020)),
        "{mismatch}"
    );
    let (status, unknown) = post(
        &url,
        "tools/call",
        Some("three_x"),
        json!({"name": "three_x", "arguments": {}}),
    )
    .await;
    assert_eq!(
        (status, unknown["error"]["code"].as_i64()),
        (400, Some(-32602)),
        "{unknown}"
    );
    let (status, removed) = post(&url, "logging/setLevel", None, json!({"level": "info"})).await;
    assert_eq!(
        (status, removed["error"]["code"].as_i64()),
        (404, Some(-32601)),
        "{removed}"
    );
}

#[tokio::test]
async fn one_listen_stream_carries_every_upstreams_notifications() {
    let one = McpFixture::start().await.expect("fixture");
    let two = McpFixture::start().await.expect("fixture");
    let gateway = Gateway::start(&format!(
        "upstreams:\n  - {{ name: one, url: \"{}\" }}\n  - {{ name: two, url: \"{}\" }}\nservers:\n  - {{ name: pair, upstreams: [one, two] }}\n",
        one.url(),
        two.url()
    ))
    .await;
    let url = gateway.url("pair");
    let mut events = listen(&url, 21).await;
    let ack = events.next_message().await.expect("acknowledged");
    assert_eq!(
        ack["method"], "notifications/subscriptions/acknowledged",
        "{ack}"
    );
    assert_eq!(
        ack["params"]["notifications"]["toolsListChanged"], true,
        "{ack}"
    );
    for (name, changed) in [
        (
            "two_test_trigger_tool_change",
            "notifications/tools/list_changed",
        ),
        (
            "one_test_trigger_prompt_change",
            "notifications/prompts/list_changed",
        ),
    ] {
        let (status, call) = post(
            &url,
            "tools/call",
            Some(name),
            json!({"name": name, "arguments": {}}),
        )
        .await;
        assert_eq!(status, 200, "{call}");
        let note = events.next_message().await.expect("a notification");
        assert_eq!(note["method"], changed, "{note}");
    }
}

#[tokio::test]
async fn stateless_clients_reach_stdio_and_builtin_upstreams_through_a_bridge_session() {
    let tag = format!("bridge-{}", std::process::id());
    let gateway = Gateway::start(&format!(
        "upstreams:\n  - {{ name: local, stdio: {{ command: \"{}\", args: [--stdio, --tag, {tag}] }} }}\n  - {{ name: demo, builtin: demo }}\nservers:\n  - {{ name: mixed, upstreams: [local, demo] }}\n",
        strata_testkit::mcp_fixture::fixture_binary().display()
    ))
    .await;
    let url = gateway.url("mixed");
    let (status, discover) = post(&url, "server/discover", None, json!({})).await;
    assert_eq!(status, 200, "{discover}");
    assert_eq!(discover["result"]["supportedVersions"], json!([VERSION]));
    assert!(
        discover["result"]["capabilities"]["tools"].is_object(),
        "{discover}"
    );

    let (_, first) = post(&url, "tools/list", None, json!({})).await;
    assert_eq!(first["result"]["resultType"], "complete", "{first}");
    let names = crate::harness::names(&first["result"], "tools");
    assert!(
        names.contains(&"local_test_simple_text".to_string()),
        "{names:?}"
    );
    let (status, sum) = post(
        &url,
        "tools/call",
        Some("demo_add"),
        json!({"name": "demo_add", "arguments": {"a": 1, "b": 2}}),
    )
    .await;
    assert_eq!(status, 200, "{sum}");
    assert_eq!(sum["result"]["content"][0]["text"], "3", "{sum}");
    let (status, text) = post(
        &url,
        "tools/call",
        Some("local_test_simple_text"),
        json!({"name": "local_test_simple_text", "arguments": {}}),
    )
    .await;
    assert_eq!(
        (status, text["result"]["content"][0]["type"].as_str()),
        (200, Some("text")),
        "{text}"
    );

    let without_meta = json!({"jsonrpc": "2.0", "id": 3, "method": "tools/list", "params": {}});
    let bare = send(&url, "tools/list", None, &without_meta).await;
    let bare = read(bare).await;
    assert_eq!(
        (bare.status, bare.last()["error"]["code"].as_i64()),
        (400, Some(-32602)),
        "missing _meta"
    );
    // A listen gets a bridge session (and a child) of its own, ended with the stream.
    let children = || {
        let out = std::process::Command::new("pgrep")
            .args(["-f", &tag])
            .output()
            .expect("pgrep");
        String::from_utf8_lossy(&out.stdout).lines().count()
    };
    assert_eq!(children(), 1, "the bridge session's child");
    let mut events = listen(&url, 31).await;
    let ack = events.next_message().await.expect("acknowledged");
    assert_eq!(
        ack["method"], "notifications/subscriptions/acknowledged",
        "{ack}"
    );
    assert_eq!(
        ack["params"]["notifications"]["toolsListChanged"], true,
        "{ack}"
    );
    assert_eq!(
        ack["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"], 31,
        "{ack}"
    );
    assert_eq!(children(), 2, "the listen's own child");
    drop(events);
    for _ in 0..100 {
        if children() == 1 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("the listen's session was not ended with its stream");
}

/// Stateless clients under RBAC: lists show only what the roles grant, and a forbidden tool,
/// prompt or resource is answered exactly like a missing one.
#[tokio::test]
async fn roles_govern_stateless_clients_too() {
    let fixture = McpFixture::start().await.expect("fixture");
    let gateway = Gateway::start_config(&format!(
        "auth:
  keys:
    - {{ name: alice, key: sk-alice, roles: [reader] }}
  roles:
    reader:
      tools: [\"fx/test_simple_text\"]
      resources: [\"fx/test://static-text\"]
mcp:
  upstreams:
    - {{ name: fixture, url: \"{}\" }}
  servers:
    - {{ name: fx, upstreams: [fixture] }}
",
        fixture.url()
    ))
    .await;
    let url = gateway.url("fx");
    let ask = |method: &'static str, name: Option<&'static str>, mut params: Value| {
        let url = url.clone();
        async move {
            params["_meta"] = meta();
            let body = json!({"jsonrpc": "2.0", "id": 9, "method": method, "params": params});
            let mut request = reqwest::Client::new()
                .post(&url)
                .bearer_auth("sk-alice")
                .header("accept", "application/json, text/event-stream")
                .header("mcp-protocol-version", VERSION)
                .header("mcp-method", method);
            if let Some(name) = name {
                request = request.header("mcp-name", name);
            }
            let reply = read(request.json(&body).send().await.unwrap()).await;
            (reply.status, reply.last().clone())
        }
    };
    let (status, tools) = ask("tools/list", None, json!({})).await;
    assert_eq!(status, 200);
    let names: Vec<&str> = tools["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(names, ["test_simple_text"]);
    let (status, ok) = ask(
        "tools/call",
        Some("test_simple_text"),
        json!({ "name": "test_simple_text", "arguments": {} }),
    )
    .await;
    assert_eq!(status, 200, "{ok}");
    assert!(ok["result"]["content"][0]["text"].is_string(), "{ok}");
    let forbidden = ask(
        "tools/call",
        Some("test_image_content"),
        json!({ "name": "test_image_content", "arguments": {} }),
    )
    .await;
    let missing = ask(
        "tools/call",
        Some("test_image_contents"),
        json!({ "name": "test_image_contents", "arguments": {} }),
    )
    .await;
    assert_eq!(forbidden.0, missing.0);
    assert_eq!(forbidden.1["error"]["code"], missing.1["error"]["code"]);
    assert_eq!(
        forbidden.1["error"]["message"],
        "unknown tool: test_image_content"
    );
    assert_eq!(
        missing.1["error"]["message"],
        "unknown tool: test_image_contents"
    );
    let (_, resources) = ask("resources/list", None, json!({})).await;
    let uris: Vec<&str> = resources["result"]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["uri"].as_str())
        .collect();
    assert_eq!(uris, ["test://static-text"]);
    let forbidden = ask(
        "resources/read",
        None,
        json!({ "uri": "test://static-binary" }),
    )
    .await;
    let missing = ask("resources/read", None, json!({ "uri": "test://nothing" })).await;
    assert_eq!(forbidden.0, missing.0);
    assert_eq!(
        forbidden.1["error"],
        json!({ "code": -32002, "message": "resource not found: test://static-binary" })
    );
    assert_eq!(
        missing.1["error"],
        json!({ "code": -32002, "message": "resource not found: test://nothing" })
    );
}
