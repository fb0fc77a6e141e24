//! The same workflow in two topologies: every layer in one process (in-process calls), and
//! three processes where the agent tier reaches the ai and mcp tiers over HTTP with its own
//! key, acting for the run's principal. Both give the same results, and the model call and
//! the tool call are recorded for the principal who started the run, in the run's one trace,
//! which a collector receives connected: the agent's spans and the ai and mcp layers' own.

use serde_json::{Value, json};

use crate::harness::Stack;

const AUTH: &str = "
auth:
  keys:
    - { name: alice, key: sk-alice, roles: [user] }
    - { name: agent-tier, key: sk-tier, roles: [tier] }
  roles:
    user: { models: [\"mock-*\"], tools: [\"demo/*\"] }
    tier: { delegate: true }
";
const AI: &str = "ai:\n  providers:\n    - { name: mock, models: [mock-1] }\n";
const MCP: &str = "mcp:\n  upstreams:\n    - { name: demo, builtin: demo }\n  servers:\n    - { name: demo, upstreams: [demo] }\n";
const WORKFLOW: &str = include_str!("../../../strata-app/src/demo.wf.yaml");

async fn run(stack: &Stack) -> Value {
    let response = reqwest::Client::new()
        .post(stack.ports.agent_url("/v1/workflows/demo/runs"))
        .bearer_auth("sk-alice")
        .json(&json!({ "input": { "question": "what is two plus three?" }, "wait": true }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// (principal, trace id) of one kind of record in a stack's store.
pub async fn principals(stack: &Stack, sql: &str) -> Vec<(Option<String>, Option<String>)> {
    let storage = strata_config::Storage {
        url: strata_core::Secret::new(stack.db_url()),
        ..Default::default()
    };
    let store = strata_store::Store::connect(&storage).await.unwrap();
    let rows: Vec<(Option<String>, Option<String>)> =
        sqlx::query_as(sqlx::AssertSqlSafe(sql.to_string()))
            .fetch_all(store.pool())
            .await
            .unwrap();
    store.close().await;
    rows
}

pub const TOOL_CALLS: &str =
    "SELECT principal, trace_id FROM audit_log WHERE layer = 'mcp' AND action = 'tools/call'";
pub const MODEL_CALLS: &str = "SELECT key_name, trace_id FROM usage_ledger";

/// The run's trace id, from its trace.
async fn trace_id(stack: &Stack, run: &Value) -> String {
    let id = run["id"].as_str().unwrap();
    let trace: Value = reqwest::Client::new()
        .get(stack.ports.agent_url(&format!("/v1/runs/{id}/trace")))
        .bearer_auth("sk-alice")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    trace["trace_id"].as_str().unwrap().to_string()
}

pub async fn eventually_recorded(
    stack: &Stack,
    sql: &str,
) -> Vec<(Option<String>, Option<String>)> {
    crate::harness::eventually(std::time::Duration::from_secs(10), sql, || async {
        let found = principals(stack, sql).await;
        (!found.is_empty()).then_some(found)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_process_and_three_tiers_give_the_same_run_and_records() {
    let (collector, received) = crate::telemetry::collector().await;
    let otlp = format!("telemetry:\n  otlp:\n    endpoint: {collector}\n");
    // One process, every layer.
    let config = format!("{AUTH}{AI}{MCP}{otlp}agent:\n  workflows: [demo.wf.yaml]\n");
    let one = Stack::start_with_files(&config, &[("demo.wf.yaml", WORKFLOW)], &[], &[]).await;
    let single = run(&one).await;
    assert_eq!(single["status"], "succeeded", "{single:#}");

    // Three processes: the agent tier reaches the others over HTTP.
    let ai = Stack::start(&format!("{AUTH}{AI}{otlp}"), &["--layers", "ai"], &[]).await;
    let mcp = Stack::start(&format!("{AUTH}{MCP}{otlp}"), &["--layers", "mcp"], &[]).await;
    let agent_config = format!(
        "{AUTH}{otlp}agent:\n  workflows: [demo.wf.yaml]\n  ai: {{ url: 'http://127.0.0.1:{}', key: sk-tier }}\n  mcp: {{ url: 'http://127.0.0.1:{}', key: sk-tier }}\n",
        ai.ports.ai, mcp.ports.mcp
    );
    let agent = Stack::start_with_files(
        &agent_config,
        &[("demo.wf.yaml", WORKFLOW)],
        &["--layers", "agent"],
        &[],
    )
    .await;
    let tiered = run(&agent).await;
    assert_eq!(tiered["status"], "succeeded", "{tiered:#}");
    assert_eq!(tiered["output"], single["output"]);
    assert_eq!(tiered["state"], single["state"]);

    // The same records: the tool call audited and the model call accounted for alice, in
    // the one process and in the tiers that served them, each in its run's trace.
    let record = |trace: String| vec![(Some("alice".to_string()), Some(trace))];
    let (single_trace, tiered_trace) = (
        trace_id(&one, &single).await,
        trace_id(&agent, &tiered).await,
    );
    assert_eq!(single_trace.len(), 32);
    assert_eq!(
        eventually_recorded(&one, TOOL_CALLS).await,
        record(single_trace.clone())
    );
    assert_eq!(
        eventually_recorded(&mcp, TOOL_CALLS).await,
        record(tiered_trace.clone())
    );
    assert_eq!(
        eventually_recorded(&one, MODEL_CALLS).await,
        record(single_trace.clone())
    );
    assert_eq!(
        eventually_recorded(&ai, MODEL_CALLS).await,
        record(tiered_trace.clone())
    );

    // Each run is one connected trace at the collector: the run's spans from the agent
    // layer, and under its attempts the spans the ai and mcp layers made serving them.
    for trace in [single_trace, tiered_trace] {
        let spans = crate::harness::eventually(
            std::time::Duration::from_secs(30),
            "both topologies' spans at the collector",
            || {
                let received = received.clone();
                let trace = trace.clone();
                async move {
                    let spans = crate::a2a::exported_spans(&received.lock().unwrap(), &trace);
                    let served: Vec<&str> = spans
                        .iter()
                        .filter(|s| s.scope != "strata-agent")
                        .map(|s| s.name.as_str())
                        .collect();
                    let run = spans.iter().any(|s| s.name == "workflow demo");
                    (run && served.len() >= 2).then_some(spans)
                }
            },
        )
        .await;
        crate::a2a::assert_connected(&spans, "workflow demo");
    }
}
