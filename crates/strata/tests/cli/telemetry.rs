//! JSON logs carry the trace and request ids; spans are exported over OTLP when configured.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::routing::post;

use crate::harness::Stack;

/// Stands in for an OpenTelemetry collector (something we do not own): records what arrives.
pub async fn collector() -> (String, Arc<Mutex<Vec<Bytes>>>) {
    let received = Arc::new(Mutex::new(Vec::new()));
    let sink = received.clone();
    let app = Router::new().route(
        "/v1/traces",
        post(move |body: Bytes| {
            let sink = sink.clone();
            async move {
                sink.lock().unwrap().push(body);
                ""
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1/traces", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, received)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_reach_the_otlp_endpoint_and_logs_carry_trace_ids() {
    let (endpoint, received) = collector().await;
    let extra =
        format!("telemetry:\n  otlp:\n    endpoint: {endpoint}\n    service_name: strata-test\n");
    let mut stack = Stack::start(
        &extra,
        &[
            "--log-format",
            "json",
            "--log-level",
            "info,strata_telemetry=debug",
        ],
        &[],
    )
    .await;
    let trace_id = "0af7651916cd43dd8448eb211c80319c";
    let response = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{}/v1/none", stack.ports.ai))
        .header("traceparent", format!("00-{trace_id}-b7ad6b7169203331-01"))
        .header("x-request-id", "req-otlp-1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);

    // Shutdown flushes the exporter.
    stack.process.signal("TERM");
    assert_eq!(stack.process.wait_exit(Duration::from_secs(15)), Some(0));

    let bodies = received.lock().unwrap().clone();
    let raw_trace_id = hex::decode(trace_id).unwrap();
    assert!(
        bodies
            .iter()
            .any(|b| b.windows(16).any(|w| w == raw_trace_id.as_slice())),
        "no exported span carries trace {trace_id} ({} export(s))",
        bodies.len()
    );
    assert!(
        bodies
            .iter()
            .any(|b| b.windows(11).any(|w| w == b"strata-test"))
    );

    // Every log line is JSON; the request's line names its trace and request id.
    let logs = stack.process.logs();
    let lines: Vec<serde_json::Value> = logs
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let served = lines
        .iter()
        .find(|l| {
            l["fields"]["message"] == "request served" && l["span"]["request_id"] == "req-otlp-1"
        })
        .unwrap_or_else(|| panic!("no request log line:\n{logs}"));
    assert_eq!(served["span"]["trace_id"], trace_id);
}
