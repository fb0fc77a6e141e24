//! The downstream transport's edges: sessions, headers, JSON and SSE answers, server requests.

use serde_json::json;
use strata_testkit::McpFixture;

use crate::harness::{Client, Events, Gateway, read};

pub async fn gateway_for(fixture: &McpFixture) -> Gateway {
    Gateway::start(&format!(
        "upstreams:\n  - {{ name: fixture, url: \"{}\" }}\nservers:\n  - {{ name: conf, upstreams: [fixture], prefix: never }}\n",
        fixture.url()
    ))
    .await
}

fn error_code(reply: &crate::harness::Reply) -> i64 {
    reply.last()["error"]["code"].as_i64().unwrap_or_default()
}

#[tokio::test]
async fn a_session_lives_from_initialize_to_delete() {
    let fixture = McpFixture::start().await.expect("fixture");
    let gateway = gateway_for(&fixture).await;
    let mut client = Client::new(gateway.url("conf"));
    let list = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"});

    let without = client.post(list.clone()).await;
    assert_eq!(without.status, 400, "a request without a session id");
    assert!(
        without.last()["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("Mcp-Session-Id")
    );
    client.session = Some("no-such-session".into());
    assert_eq!(
        client.post(list.clone()).await.status,
        404,
        "an unknown session id"
    );

    let init = client.initialize("2025-11-25").await;
    let id = client.session.clone().expect("session");
    assert!(
        id.len() >= 32 && id.bytes().all(|b| (0x21..=0x7e).contains(&b)),
        "{id}"
    );
    let result = &init.last()["result"];
    assert_eq!(result["protocolVersion"], "2025-11-25");
    assert!(result["capabilities"]["tools"].is_object(), "{result}");

    let tools = client.call("tools/list", json!({})).await;
    let names: Vec<&str> = tools["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert!(names.contains(&"test_simple_text"), "{names:?}");
    let text = client
        .call(
            "tools/call",
            json!({"name": "test_simple_text", "arguments": {}}),
        )
        .await;
    assert_eq!(text["content"][0]["type"], "text", "{text}");

    let deleted = client
        .request(reqwest::Method::DELETE)
        .send()
        .await
        .expect("DELETE");
    assert_eq!(deleted.status(), 200);
    let after = client.post(list).await;
    assert_eq!(after.status, 404, "a deleted session is gone");
    let again = client
        .request(reqwest::Method::DELETE)
        .send()
        .await
        .expect("DELETE");
    assert_eq!(again.status(), 404);
    assert_eq!(gateway.deps.session_count(), 0);
}

#[tokio::test]
async fn versions_are_negotiated_and_checked() {
    let fixture = McpFixture::start().await.expect("fixture");
    let gateway = gateway_for(&fixture).await;
    let mut old = Client::new(gateway.url("conf"));
    let init = old.initialize("2025-03-26").await;
    assert_eq!(init.last()["result"]["protocolVersion"], "2025-03-26");
    let mut future = Client::new(gateway.url("conf"));
    let init = future.initialize("2099-01-01").await;
    assert_eq!(
        init.last()["result"]["protocolVersion"],
        "2025-11-25",
        "an unknown version gets the latest"
    );

    let ping = json!({"jsonrpc": "2.0", "id": 5, "method": "ping"});
    let bad = future
        .request(reqwest::Method::POST)
        .header("mcp-protocol-version", "1999-01-01")
        .json(&ping)
        .send()
        .await
        .expect("POST");
    let bad = read(bad).await;
    assert_eq!(bad.status, 400);
    assert!(
        bad.last()["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("protocol version")
    );
    let good = future
        .request(reqwest::Method::POST)
        .header("mcp-protocol-version", "2025-06-18")
        .json(&ping)
        .send()
        .await
        .expect("POST");
    assert_eq!(read(good).await.last()["result"], json!({}));
}

#[tokio::test]
async fn foreign_hosts_and_origins_are_refused() {
    let fixture = McpFixture::start().await.expect("fixture");
    let gateway = gateway_for(&fixture).await;
    let client = Client::new(gateway.url("conf"));
    let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "x", "version": "1"}}});
    let host = client.post_with(("host", "evil.example.com"), &init).await;
    assert_eq!(host.status, 403);
    let origin = client
        .post_with(("origin", "http://evil.example.com"), &init)
        .await;
    assert_eq!(origin.status, 403);
    let local = client
        .post_with(("origin", "http://localhost:3000"), &init)
        .await;
    assert_eq!(local.status, 200);
}

#[tokio::test]
async fn bad_messages_get_json_rpc_errors() {
    let fixture = McpFixture::start().await.expect("fixture");
    let gateway = gateway_for(&fixture).await;
    let mut client = Client::new(gateway.url("conf"));
    client.initialize("2025-11-25").await;
    let raw = async |body: &'static str| {
        let response = client
            .request(reqwest::Method::POST)
            .body(body)
            .send()
            .await;
        read(response.expect("POST")).await
    };

    let parse = raw("{not json").await;
    assert_eq!((parse.status, error_code(&parse)), (400, -32700));
    let batch = raw(r#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#).await;
    assert_eq!((batch.status, error_code(&batch)), (400, -32600));
    let shape = raw(r#"{"jsonrpc":"1.0","id":1,"method":"ping"}"#).await;
    assert_eq!((shape.status, error_code(&shape)), (400, -32600));
    let media = client
        .bare(reqwest::Method::POST)
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .expect("POST");
    assert_eq!(media.status(), 415);
    let accept = client
        .bare(reqwest::Method::POST)
        .header("accept", "text/html")
        .json(&json!({"jsonrpc":"2.0","id":1,"method":"ping"}))
        .send()
        .await
        .expect("POST");
    assert_eq!(accept.status(), 406);
    let unknown = read(
        client
            .request(reqwest::Method::POST)
            .json(&json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{}}))
            .send()
            .await
            .expect("POST"),
    )
    .await;
    assert_eq!(error_code(&unknown), -32602, "tools/call without a name");
    let server = Client::new(gateway.url("nope"));
    assert_eq!(
        server
            .post(json!({"jsonrpc":"2.0","id":1,"method":"ping"}))
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn progress_is_streamed_before_the_answer_on_the_request_stream() {
    let fixture = McpFixture::start().await.expect("fixture");
    let gateway = gateway_for(&fixture).await;
    let mut client = Client::new(gateway.url("conf"));
    client.initialize("2025-11-25").await;
    let call = json!({"jsonrpc": "2.0", "id": "p-1", "method": "tools/call",
        "params": {"name": "test_tool_with_progress", "arguments": {}, "_meta": {"progressToken": "tok"}}});
    let response = client
        .request(reqwest::Method::POST)
        .json(&call)
        .send()
        .await
        .expect("POST");
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap_or_default()
            .starts_with("text/event-stream")
    );
    let mut events = Events::new(response);
    let priming = events.next().await.expect("priming");
    assert!(
        priming.id.is_some() && priming.raw.as_deref() == Some(""),
        "{priming:?}"
    );
    let mut progress = 0;
    loop {
        let message = events.next_message().await.expect("a message");
        if message["method"] == "notifications/progress" {
            assert_eq!(message["params"]["progressToken"], "tok");
            progress += 1;
            continue;
        }
        assert_eq!(
            message["id"], "p-1",
            "the answer keeps the client's id: {message}"
        );
        assert!(message["result"]["content"].is_array());
        break;
    }
    assert!(progress >= 1, "no progress notification arrived");
}

#[tokio::test]
async fn a_sampling_request_reaches_the_client_and_its_answer_the_upstream() {
    let fixture = McpFixture::start().await.expect("fixture");
    let gateway = gateway_for(&fixture).await;
    let mut client = Client::new(gateway.url("conf"));
    client.initialize("2025-11-25").await;
    let result = client.sample_through(7, "sampled-by-the-client").await;
    assert!(
        result.to_string().contains("sampled-by-the-client"),
        "{result}"
    );
}

#[tokio::test]
async fn a_stream_closed_by_the_upstream_is_resumed_with_last_event_id() {
    let fixture = McpFixture::start().await.expect("fixture");
    let gateway = gateway_for(&fixture).await;
    let mut client = Client::new(gateway.url("conf"));
    client.initialize("2025-11-25").await;
    let call = json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"test_reconnection","arguments":{}}});
    let response = client
        .request(reqwest::Method::POST)
        .json(&call)
        .send()
        .await
        .expect("POST");
    let mut events = Events::new(response);
    let mut last_id = None;
    let mut retry = None;
    while let Some(event) = events.next().await {
        assert!(
            event.data.is_none(),
            "the answer came before the pause: {event:?}"
        );
        last_id = event.id.or(last_id);
        retry = event.retry.or(retry);
    }
    assert!(retry.is_some(), "the closing event carries `retry`");
    let resumed = client
        .request(reqwest::Method::GET)
        .header("last-event-id", last_id.expect("an event id"))
        .send()
        .await
        .expect("GET");
    assert_eq!(resumed.status(), 200);
    let message = Events::new(resumed)
        .next_message()
        .await
        .expect("the answer");
    assert_eq!(message["id"], 1);
    assert!(message["result"].is_object(), "{message}");
}

#[tokio::test]
async fn one_standalone_stream_per_session() {
    let fixture = McpFixture::start().await.expect("fixture");
    let gateway = gateway_for(&fixture).await;
    let mut client = Client::new(gateway.url("conf"));
    client.initialize("2025-11-25").await;
    let get = || {
        client
            .bare(reqwest::Method::GET)
            .header("accept", "text/event-stream")
            .send()
    };
    let first = get().await.expect("GET");
    assert_eq!(first.status(), 200);
    assert_eq!(
        get().await.expect("GET").status(),
        409,
        "a second concurrent GET stream"
    );
    drop(first);
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(
        get().await.expect("GET").status(),
        200,
        "after the first one closed"
    );
    let wrong_accept = client
        .bare(reqwest::Method::GET)
        .header("accept", "application/json")
        .send()
        .await
        .expect("GET");
    assert_eq!(wrong_accept.status(), 406);
}

#[tokio::test]
async fn an_upstream_list_change_reaches_the_standalone_stream() {
    let fixture = McpFixture::start().await.expect("fixture");
    let gateway = gateway_for(&fixture).await;
    let mut client = Client::new(gateway.url("conf"));
    client.initialize("2025-11-25").await;
    let stream = client
        .bare(reqwest::Method::GET)
        .header("accept", "text/event-stream")
        .send()
        .await
        .expect("GET");
    let mut events = Events::new(stream);
    let call = client
        .call(
            "tools/call",
            json!({"name": "test_session_tool_change", "arguments": {}}),
        )
        .await;
    assert!(call.get("error").is_none(), "{call}");
    let note = events.next_message().await.expect("a notification");
    assert_eq!(note["method"], "notifications/tools/list_changed", "{note}");
}

#[tokio::test]
async fn a_cancelled_request_is_cancelled_upstream_and_not_waited_for() {
    let fixture = McpFixture::start().await.expect("fixture");
    let gateway = gateway_for(&fixture).await;
    let mut client = Client::new(gateway.url("conf"));
    client.initialize("2025-11-25").await;
    let marker = format!("cancel-{}", std::process::id());
    let call = json!({"jsonrpc": "2.0", "id": 77, "method": "tools/call",
        "params": {"name": "test_slow", "arguments": {"ms": 20000, "marker": marker}}});
    let slow = client.request(reqwest::Method::POST).json(&call).send();
    let started = std::time::Instant::now();
    let cancel = async {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let note = json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
            "params": {"requestId": 77, "reason": "user pressed stop"}});
        client.post(note).await.status
    };
    let (reply, status) = tokio::join!(slow, cancel);
    assert_eq!(status, 202);
    let reply = read(reply.expect("POST")).await;
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "the gateway kept waiting"
    );
    assert_eq!(
        reply.last()["error"]["code"],
        -32800,
        "{:?}",
        reply.messages
    );
    for _ in 0..100 {
        if strata_testkit::mcp_fixture::was_cancelled(&marker) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("the upstream never saw the cancellation");
}

#[tokio::test]
async fn a_request_past_the_upstream_timeout_is_cancelled_and_answered() {
    let fixture = McpFixture::start().await.expect("fixture");
    let gateway = Gateway::start(&format!(
        "upstreams:\n  - {{ name: fixture, url: \"{}\", timeout: 300ms }}\nservers:\n  - {{ name: conf, upstreams: [fixture] }}\n",
        fixture.url()
    ))
    .await;
    let mut client = Client::new(gateway.url("conf"));
    client.initialize("2025-11-25").await;
    let marker = format!("timeout-{}", std::process::id());
    let result = client
        .call(
            "tools/call",
            json!({"name": "test_slow", "arguments": {"ms": 20000, "marker": marker}}),
        )
        .await;
    assert_eq!(result["error"]["code"], -32001, "{result}");
    assert!(
        result["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("300ms"),
        "{result}"
    );
    for _ in 0..100 {
        if strata_testkit::mcp_fixture::was_cancelled(&marker) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("the upstream never saw the cancellation");
}
