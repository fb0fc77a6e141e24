//! `strata serve`: listeners per layer, health, readiness, metrics, request ids, trace context.

use std::time::Duration;

use crate::harness::{Stack, eventually, post_json};

#[tokio::test]
async fn every_layer_and_admin_listen_and_report_ready() {
    let stack = Stack::start("", &[], &[]).await;
    let (status, ready) = stack.get_json("/readyz").await;
    assert_eq!(status, 200, "{ready}");
    assert_eq!(ready["status"], "ready");
    for check in ["storage", "ai", "mcp", "agent"] {
        assert!(
            ready["checks"][check] == "ok" || ready["checks"][check] == "up",
            "{ready}"
        );
    }
    let (status, health) = stack.get_json("/healthz").await;
    assert_eq!(status, 200);
    assert_eq!(health["config"]["generation"], 1);

    // Each layer answers on its own port in its own protocol's error shape.
    let ai = reqwest::get(format!("http://127.0.0.1:{}/v1/nope", stack.ports.ai))
        .await
        .unwrap();
    assert_eq!(ai.status(), 404);
    let ai: serde_json::Value = ai.json().await.unwrap();
    assert_eq!(ai["error"]["type"], "invalid_request_error");
    let mcp = reqwest::get(format!("http://127.0.0.1:{}/mcp/none", stack.ports.mcp))
        .await
        .unwrap();
    let mcp: serde_json::Value = mcp.json().await.unwrap();
    assert_eq!(mcp["jsonrpc"], "2.0");
    assert_eq!(mcp["error"]["code"], -32601);
    let agent = reqwest::get(format!("http://127.0.0.1:{}/v1/x", stack.ports.agent))
        .await
        .unwrap();
    assert_eq!(agent.status(), 404);
}

#[tokio::test]
async fn only_the_chosen_layers_are_served() {
    let stack = Stack::start("", &["--layers", "ai"], &[]).await;
    let (status, ready) = stack.get_json("/readyz").await;
    assert_eq!(status, 200, "{ready}");
    assert_eq!(ready["checks"]["ai"], "up");
    assert!(ready["checks"].get("mcp").is_none(), "{ready}");
    let mcp = reqwest::get(format!("http://127.0.0.1:{}/", stack.ports.mcp)).await;
    assert!(mcp.is_err(), "mcp listener must not be bound");
}

/// The worker threads a running stack reports on `/healthz`.
async fn workers(stack: &Stack) -> u64 {
    let (status, health) = stack.get_json("/healthz").await;
    assert_eq!(status, 200, "{health}");
    health["workers"].as_u64().unwrap()
}

#[tokio::test]
async fn workers_sets_the_threads_that_serve_requests() {
    let mock = "ai:\n  providers: [{ name: mock, models: [mock-1] }]\n";
    let stack = Stack::start(mock, &["--layers", "ai", "--workers", "1"], &[]).await;
    assert_eq!(workers(&stack).await, 1);
    let chat =
        serde_json::json!({"model": "mock-1", "messages": [{"role": "user", "content": "hi"}]});
    let answer = post_json(&stack.ports.ai_url("/v1/chat/completions"), &chat).await;
    assert_eq!(answer["object"], "chat.completion", "{answer}");
    // The environment sets it too; three here, whatever the machine's CPU count.
    let stack = Stack::start("", &["--layers", "ai"], &[("STRATA_WORKERS", "3")]).await;
    assert_eq!(workers(&stack).await, 3);
    // Without either, one per CPU.
    let stack = Stack::start("", &["--layers", "ai"], &[]).await;
    let cpus = std::thread::available_parallelism().unwrap().get() as u64;
    assert_eq!(workers(&stack).await, cpus);
}

#[test]
fn workers_must_be_at_least_one() {
    let out = std::process::Command::new(crate::harness::bin())
        .args(["serve", "--workers", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--workers") && err.contains("1..=1024"),
        "{err}"
    );
}

#[tokio::test]
async fn request_ids_and_trace_context_are_propagated() {
    let stack = Stack::start("", &[], &[]).await;
    let client = reqwest::Client::new();
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let response = client
        .get(format!(
            "http://127.0.0.1:{}/v1/models-nope",
            stack.ports.ai
        ))
        .header("traceparent", format!("00-{trace_id}-00f067aa0ba902b7-01"))
        .send()
        .await
        .unwrap();
    let traceparent = response.headers()["traceparent"]
        .to_str()
        .unwrap()
        .to_string();
    let parts: Vec<&str> = traceparent.split('-').collect();
    assert_eq!(parts[1], trace_id, "trace continued: {traceparent}");
    assert_ne!(parts[2], "00f067aa0ba902b7", "a new span of the same trace");
    assert_eq!(response.headers()["x-request-id"].len(), 36);

    // A caller's request id is kept.
    let response = client
        .get(stack.ports.admin_url("/healthz"))
        .header("x-request-id", "req-123")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "req-123");

    // Without a traceparent a new trace starts.
    let response = client
        .get(stack.ports.admin_url("/healthz"))
        .send()
        .await
        .unwrap();
    let fresh = response.headers()["traceparent"].to_str().unwrap();
    assert!(!fresh.contains(trace_id));
    assert_eq!(fresh.len(), 55);
}

#[tokio::test]
async fn metrics_are_valid_prometheus_text() {
    let stack = Stack::start(
        "ai:\n  providers: [{ name: mock, models: [mock-1] }]\n",
        &[],
        &[],
    )
    .await;
    reqwest::get(format!("http://127.0.0.1:{}/v1/nope", stack.ports.ai))
        .await
        .unwrap();
    // Model calls, whole and streamed, feed the GenAI metrics.
    let client = reqwest::Client::new();
    for stream in [false, true] {
        let body = serde_json::json!({ "model": "mock-1", "stream": stream, "stream_options": { "include_usage": true },
            "messages": [{ "role": "user", "content": "count me" }] });
        let response = client
            .post(format!(
                "http://127.0.0.1:{}/v1/chat/completions",
                stack.ports.ai
            ))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.bytes().await.unwrap();
    }
    let response = reqwest::get(stack.ports.admin_url("/metrics"))
        .await
        .unwrap();
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = response.text().await.unwrap();
    assert!(
        text.contains(r#"strata_http_requests_total{layer="ai",method="GET",status="404"} 1"#),
        "{text}"
    );
    assert!(text.contains("strata_config_generation 1"), "{text}");
    let labels = r#"gen_ai_operation_name="chat",gen_ai_provider_name="strata.mock",strata_provider="mock",gen_ai_request_model="mock-1",gen_ai_response_model="mock-1",error_type="""#;
    assert!(
        text.contains(&format!(
            r#"gen_ai_client_operation_duration_seconds_count{{{labels}}} 2"#
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            r#"gen_ai_client_token_usage_count{{{labels},gen_ai_token_type="input"}} 2"#
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            r#"gen_ai_client_token_usage_count{{{labels},gen_ai_token_type="output"}} 2"#
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            r#"gen_ai_server_time_to_first_token_seconds_count{{{labels}}} 1"#
        )),
        "{text}"
    );
    assert!(
        text.contains("strata_ai_added_latency_seconds_count 2"),
        "{text}"
    );

    match which("promtool") {
        Some(promtool) => {
            let mut child = std::process::Command::new(promtool)
                .args(["check", "metrics"])
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(text.as_bytes())
                .unwrap();
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "promtool check metrics failed:\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        None => strata_testkit::skip(
            "metrics_are_valid_prometheus_text (promtool part)",
            "promtool not installed (Debian package prometheus)",
        ),
    }

    // OpenMetrics for scrapers that ask for it.
    let response = reqwest::Client::new()
        .get(stack.ports.admin_url("/metrics"))
        .header("accept", "application/openmetrics-text; version=1.0.0")
        .send()
        .await
        .unwrap();
    assert!(response.text().await.unwrap().ends_with("# EOF\n"));
}

#[tokio::test]
async fn readiness_follows_redis() {
    // A Redis of our own on a free port, so the test can take it away.
    let Some(redis_server) = which("redis-server") else {
        strata_testkit::skip("readiness_follows_redis", "redis-server not installed");
        return;
    };
    let port = strata_testkit::free_port();
    let mut redis = std::process::Command::new(redis_server)
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("redis://127.0.0.1:{port}");
    eventually(Duration::from_secs(10), "redis to start", || async {
        std::net::TcpStream::connect(("127.0.0.1", port))
            .ok()
            .map(|_| ())
    })
    .await;
    let stack = Stack::start(&format!("  redis: {url}\n"), &[], &[]).await;
    let (status, ready) = stack.get_json("/readyz").await;
    assert_eq!(status, 200, "{ready}");

    redis.kill().unwrap();
    redis.wait().unwrap();
    let ready = eventually(Duration::from_secs(10), "readyz to turn 503", || async {
        let (status, body) = stack.get_json("/readyz").await;
        (status == 503).then_some(body)
    })
    .await;
    assert_eq!(ready["status"], "not ready");
    assert!(
        ready["checks"]["storage"]
            .as_str()
            .unwrap()
            .contains("redis"),
        "{ready}"
    );
    // Liveness is unaffected.
    assert_eq!(stack.get_json("/healthz").await.0, 200);
}

pub fn which(name: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.is_file())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_callers_trace_continues_to_the_provider() {
    let upstream = strata_testkit::MockLlm::start().await;
    let providers = format!(
        "ai:\n  providers: [{{ name: up, kind: openai, api_base: '{}', models: [m] }}]\n",
        upstream.base_url
    );
    let stack = Stack::start(&providers, &[], &[]).await;
    let trace_id = "5bf92f3577b34da6a3ce929d0e0e4737";
    let response = reqwest::Client::new()
        .post(format!(
            "http://127.0.0.1:{}/v1/chat/completions",
            stack.ports.ai
        ))
        .header("traceparent", format!("00-{trace_id}-00f067aa0ba902b7-01"))
        .json(
            &serde_json::json!({ "model": "m", "messages": [{ "role": "user", "content": "t" }] }),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let seen = upstream.received();
    let sent = seen[0].headers["traceparent"].to_str().unwrap();
    let parts: Vec<&str> = sent.split('-').collect();
    assert_eq!(
        parts[1], trace_id,
        "the provider call is part of the caller's trace: {sent}"
    );
    assert_ne!(parts[2], "00f067aa0ba902b7", "with a span of its own");
}
