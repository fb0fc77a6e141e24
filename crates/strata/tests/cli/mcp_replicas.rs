//! Two `strata serve` processes sharing one Redis: an MCP session opened through one replica
//! keeps working through the other (the request is passed to the replica that holds it), and
//! a DELETE through either ends it for both.

use serde_json::{Value, json};

use crate::harness::Stack;

async fn post(port: u16, session: Option<&str>, body: &Value) -> (u16, Option<String>, Value) {
    crate::harness::post_mcp(&reqwest::Client::new(), port, session, body).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_opened_on_one_replica_works_through_the_other() {
    let Some(redis) = strata_testkit::service_url(strata_testkit::Service::Redis) else {
        strata_testkit::skip(
            "a_session_opened_on_one_replica_works_through_the_other",
            "STRATA_TEST_REDIS_URL is not set",
        );
        return;
    };
    let extra = format!(
        "storage: {{ redis: '{redis}' }}\n\
         mcp:\n  upstreams:\n    - {{ name: demo, builtin: demo }}\n  servers:\n    - {{ name: demo, upstreams: [demo] }}\n"
    );
    let (a, b) = tokio::join!(
        Stack::start(&extra, &["--layers", "mcp"], &[]),
        Stack::start(&extra, &["--layers", "mcp"], &[])
    );
    let (pa, pb) = (a.ports.mcp, b.ports.mcp);
    let init = json!({ "jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": { "name": "replicas", "version": "1" } } });
    let (status, session, _) = post(pa, None, &init).await;
    assert_eq!(status, 200);
    let session = session.unwrap();
    let initialized = json!({ "jsonrpc": "2.0", "method": "notifications/initialized" });
    assert_eq!(post(pb, Some(&session), &initialized).await.0, 202);
    // Through the other replica: the call reaches the session (and its upstream) on the first.
    let call = json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": { "name": "add", "arguments": { "a": 2, "b": 3 } } });
    let (status, _, answer) = post(pb, Some(&session), &call).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["result"]["content"][0]["text"], "5", "{answer}");
    let list = json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/list" });
    let (status, _, answer) = post(pa, Some(&session), &list).await;
    assert_eq!(status, 200);
    assert!(answer["result"]["tools"].is_array());
    // The session lives on the first replica only; a DELETE through the second ends it there.
    assert!(!a.process.logs().contains("panicked"));
    let deleted = reqwest::Client::new()
        .delete(format!("http://127.0.0.1:{pb}/mcp/demo"))
        .header("mcp-session-id", &session)
        .header("mcp-protocol-version", "2025-11-25")
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 200);
    for port in [pa, pb] {
        assert_eq!(
            post(port, Some(&session), &list).await.0,
            404,
            "port {port}"
        );
    }
    // An id nobody holds is 404 on both.
    for port in [pa, pb] {
        assert_eq!(post(port, Some("0123456789abcdef"), &list).await.0, 404);
    }
}
