//! The scale-out proof: two full `strata` processes sharing one Postgres and one Redis behind
//! a round-robin proxy (a new connection, so the next replica, for every request). Rate limits
//! hold across both, an MCP session opened through one replica keeps working through the
//! other and one DELETE ends it for both, and workflow runs started on either complete after
//! one replica is killed.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use strata_testkit::{Behavior, FreshDatabase, MockLlm, Service, service_url, skip};
use tokio::net::{TcpListener, TcpStream};

use crate::harness::{Stack, eventually};

const SLOW: &str = r#"
name: slow
steps:
  a: { llm: { model: m, messages: [{ role: user, content: "a" }] }, output: a }
  b: { needs: [a], tool: { server: demo, name: add, arguments: { a: 1, b: 2 } }, output: b }
"#;

/// A TCP proxy that sends each new connection to the next backend in turn; returns its port.
async fn round_robin(backends: Vec<u16>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let next = Arc::new(AtomicUsize::new(0));
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let backend = backends[next.fetch_add(1, Ordering::Relaxed) % backends.len()];
            tokio::spawn(async move {
                if let Ok(mut server) = TcpStream::connect(("127.0.0.1", backend)).await {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                }
            });
        }
    });
    port
}

/// A client that opens a new connection for every request (so the proxy alternates).
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
}

async fn mcp(port: u16, session: Option<&str>, body: &Value) -> (u16, Option<String>, Value) {
    crate::harness::post_mcp(&client(), port, session, body).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_on_postgres_and_redis_behave_as_one() {
    let (Some(pg), Some(redis)) = (service_url(Service::Postgres), service_url(Service::Redis))
    else {
        skip(
            "two_replicas_on_postgres_and_redis_behave_as_one",
            "STRATA_TEST_POSTGRES_URL and STRATA_TEST_REDIS_URL are needed",
        );
        return;
    };
    let db = FreshDatabase::create(&pg).await.unwrap();
    let llm = MockLlm::start().await;
    llm.script((0..40).map(|_| Behavior::Delay(Duration::from_millis(300))));
    let run = strata_core::new_id();
    let extra = format!(
        "storage:\n  url: {}\n  redis: '{redis}'\n\
         auth:\n  keys:\n    - {{ name: app-{run}, key: sk-app-{run}, limits: {{ rpm: 10 }} }}\n    - {{ name: runner-{run}, key: sk-runner-{run} }}\n\
         ai:\n  providers:\n    - {{ name: llm, kind: openai, api_base: '{}', api_key: test, models: [m] }}\n\
         mcp:\n  upstreams:\n    - {{ name: demo, builtin: demo }}\n  servers:\n    - {{ name: demo, upstreams: [demo], auth: off }}\n\
         agent:\n  workflows: [\"*.wf.yaml\"]\n  lease: 2s\n  poll_interval: 100ms\n",
        db.url, llm.base_url
    );
    let files = [("slow.wf.yaml", SLOW)];
    let a = Stack::start_with_files(&extra, &files, &[], &[]).await;
    let b = Stack::start_with_files(&extra, &files, &[], &[]).await;
    let ai = round_robin(vec![a.ports.ai, b.ports.ai]).await;
    let mcp_port = round_robin(vec![a.ports.mcp, b.ports.mcp]).await;
    let agent = round_robin(vec![a.ports.agent, b.ports.agent]).await;

    // Rate limits: 30 calls through the proxy, half to each replica; rpm 10 holds in total.
    let key = format!("sk-app-{run}");
    let calls = (0..30).map(|_| {
        client()
            .post(format!("http://127.0.0.1:{ai}/v1/chat/completions"))
            .bearer_auth(&key)
            .json(&json!({ "model": "m", "messages": [{ "role": "user", "content": "hi" }] }))
            .send()
    });
    let statuses: Vec<u16> = futures_util::future::join_all(calls)
        .await
        .into_iter()
        .map(|r| r.unwrap().status().as_u16())
        .collect();
    let admitted = statuses.iter().filter(|s| **s != 429).count();
    eprintln!("scale-out: {admitted} of 30 calls admitted under rpm 10 across two replicas");
    assert_eq!(admitted, 10, "{statuses:?}");

    // One MCP session through the proxy: every request lands on the other replica in turn.
    let init = json!({ "jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": { "name": "scale-out", "version": "1" } } });
    let (status, session, _) = mcp(mcp_port, None, &init).await;
    assert_eq!(status, 200);
    let session = session.unwrap();
    let started = Instant::now();
    for i in 0..10 {
        let call = json!({ "jsonrpc": "2.0", "id": i + 1, "method": "tools/call",
            "params": { "name": "add", "arguments": { "a": i, "b": 1 } } });
        let (status, _, answer) = mcp(mcp_port, Some(&session), &call).await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["result"]["content"][0]["text"], (i + 1).to_string());
    }
    eprintln!(
        "scale-out: 10 tool calls through the proxy in {} ms (half passed to the session's replica)",
        started.elapsed().as_millis()
    );
    let deleted = client()
        .delete(format!("http://127.0.0.1:{mcp_port}/mcp/demo"))
        .header("mcp-session-id", &session)
        .header("mcp-protocol-version", "2025-11-25")
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 200);
    let list = json!({ "jsonrpc": "2.0", "id": 99, "method": "tools/list" });
    for port in [a.ports.mcp, b.ports.mcp] {
        assert_eq!(mcp(port, Some(&session), &list).await.0, 404);
    }

    // Workflow runs started through the proxy complete after replica a dies.
    let mut ids = Vec::new();
    for _ in 0..10 {
        let r = client()
            .post(format!("http://127.0.0.1:{agent}/v1/workflows/slow/runs"))
            .bearer_auth(format!("sk-runner-{run}"))
            .json(&json!({ "input": {} }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        ids.push(
            r.json::<Value>().await.unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    let mut a = a;
    a.process.signal("KILL");
    a.process.wait_exit(Duration::from_secs(10));
    let killed = Instant::now();
    eventually(
        Duration::from_secs(60),
        "every run to succeed on b",
        || async {
            let list: Value = client()
                .get(
                    b.ports
                        .agent_url("/v1/runs?workflow=slow&status=succeeded&limit=100"),
                )
                .bearer_auth(format!("sk-runner-{run}"))
                .send()
                .await
                .ok()?
                .json()
                .await
                .ok()?;
            (list["runs"].as_array().map_or(0, Vec::len) == ids.len()).then_some(())
        },
    )
    .await;
    eprintln!(
        "scale-out: all 10 runs succeeded {} ms after replica a was killed (lease 2 s)",
        killed.elapsed().as_millis()
    );
    drop(b);
    db.drop_database().await.unwrap();
}
