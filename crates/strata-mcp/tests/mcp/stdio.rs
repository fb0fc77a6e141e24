//! Stdio upstreams: one child per session, reaped when the session ends, re-initialised when it
//! dies, and bounded per upstream.

use std::time::Duration;

use serde_json::json;
use strata_testkit::mcp_fixture::fixture_binary;

use crate::harness::{Client, Gateway};

/// Pids of live processes whose command line contains `tag`.
fn children(tag: &str) -> Vec<u32> {
    let output = std::process::Command::new("pgrep")
        .args(["-f", tag])
        .output()
        .expect("pgrep runs");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

async fn wait_for(what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..100 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

async fn gateway(tag: &str, max: u32) -> Gateway {
    gateway_with(tag, max, "30m").await
}

async fn gateway_with(tag: &str, max: u32, idle: &str) -> Gateway {
    Gateway::start(&format!(
        "session_idle_timeout: {idle}
upstreams:
  - {{ name: local, stdio: {{ command: \"{bin}\", args: [--stdio, --tag, {tag}], max_processes: {max} }} }}
servers:
  - {{ name: solo, upstreams: [local] }}
",
        bin = fixture_binary().display()
    ))
    .await
}

#[tokio::test]
async fn a_child_per_session_reaped_on_delete_and_restarted_when_it_dies() {
    let tag = format!("reap-{}", std::process::id());
    let gateway = gateway(&tag, 4).await;
    let mut client = Client::new(gateway.url("solo"));
    client.initialize("2025-11-25").await;
    assert_eq!(children(&tag).len(), 1, "one child for the session");

    let before = children(&tag)[0];
    std::process::Command::new("kill")
        .args(["-9", &before.to_string()])
        .status()
        .expect("kill");
    // Once the gateway has seen the child die, a request waits for the re-initialised one
    // instead of failing: the session is never half-alive.
    wait_for("the child to be gone", || !children(&tag).contains(&before)).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let answered = client
        .call(
            "tools/call",
            json!({"name": "test_simple_text", "arguments": {}}),
        )
        .await;
    assert_eq!(answered["content"][0]["type"], "text", "{answered}");
    assert_eq!(children(&tag).len(), 1, "one new child");

    let deleted = client
        .request(reqwest::Method::DELETE)
        .send()
        .await
        .expect("DELETE");
    assert_eq!(deleted.status(), 200);
    wait_for("the child to be reaped", || children(&tag).is_empty()).await;
}

#[tokio::test]
async fn a_session_beyond_the_process_limit_is_refused() {
    let tag = format!("limit-{}", std::process::id());
    let gateway = gateway(&tag, 1).await;
    let mut first = Client::new(gateway.url("solo"));
    first.initialize("2025-11-25").await;
    let second = Client::new(gateway.url("solo"));
    let refused = second
        .post(json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "x", "version": "1"}}}))
        .await;
    assert_eq!(refused.status, 502);
    let message = refused.last()["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(message.contains("maximum of 1"), "{message}");
    first
        .request(reqwest::Method::DELETE)
        .send()
        .await
        .expect("DELETE");
    wait_for("the child to be reaped", || children(&tag).is_empty()).await;
}

#[tokio::test]
async fn an_idle_session_ends_and_its_child_is_reaped() {
    let tag = format!("idle-{}", std::process::id());
    let gateway = gateway_with(&tag, 4, "1s").await;
    let mut client = Client::new(gateway.url("solo"));
    client.initialize("2025-11-25").await;
    assert_eq!(children(&tag).len(), 1);
    wait_for("the idle session's child to be reaped", || {
        children(&tag).is_empty()
    })
    .await;
    let after = client
        .post(json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}))
        .await;
    assert_eq!(after.status, 404, "the idle session is gone");
}
