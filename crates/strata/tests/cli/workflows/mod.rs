//! The agent layer end to end: workflows run by `strata serve` against the project's mock
//! LLM provider and MCP servers, driven over the HTTP API and the `strata runs` commands.

mod crash;
mod human;
mod kinds;
mod npm;
mod resilience;
mod scale;
mod sessions;
mod trace;

use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{Stack, eventually};

/// Config text: a mock provider at `llm_base` (the project's mock LLM server) serving every
/// model, the built-in demo MCP server as virtual server `demo`, and the workflow files.
pub fn config(llm_base: &str, extra: &str) -> String {
    format!(
        "ai:\n  retry:\n    attempts: 0\n  providers:\n    - name: llm\n      kind: openai\n      api_base: {llm_base}\n      api_key: test\n\
         mcp:\n  upstreams:\n    - name: demo\n      builtin: demo\n  servers:\n    - name: demo\n      upstreams: [demo]\n\
         agent:\n  workflows: [\"*.wf.yaml\"]\n  lease: 2s\n  poll_interval: 100ms\n{extra}"
    )
}

/// A stack serving the embedded `demo` workflow (the mock model, the demo tool server).
pub async fn demo_stack() -> Stack {
    let demo = include_str!("../../../../strata-app/src/demo.wf.yaml");
    Stack::start_with_files(
        "ai:\n  providers:\n    - name: mock\n      models: [mock-1]\n\
         mcp:\n  upstreams:\n    - { name: demo, builtin: demo }\n  servers:\n    - { name: demo, upstreams: [demo] }\n\
         agent:\n  workflows: [\"*.wf.yaml\"]\n",
        &[("demo.wf.yaml", demo)],
        &[],
        &[],
    )
    .await
}

pub async fn post(stack: &Stack, path: &str, body: Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(stack.ports.agent_url(path))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

pub async fn get(stack: &Stack, path: &str) -> (u16, Value) {
    let response = reqwest::get(stack.ports.agent_url(path)).await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Starts a run and waits for its end (sync wait).
pub async fn run(stack: &Stack, workflow: &str, input: Value) -> Value {
    let (status, run) = post(
        stack,
        &format!("/v1/workflows/{workflow}/runs"),
        json!({ "input": input, "wait": "30s" }),
    )
    .await;
    assert_eq!(status, 200, "{run:#}\n{}", stack.process.logs());
    run
}

/// Starts a run without waiting; answers its id.
pub async fn start(stack: &Stack, workflow: &str, input: Value) -> String {
    let (status, run) = post(
        stack,
        &format!("/v1/workflows/{workflow}/runs"),
        json!({ "input": input }),
    )
    .await;
    assert_eq!(status, 201, "{run:#}");
    run["id"].as_str().unwrap().to_string()
}

/// `strata runs ARGS --config` of the stack: exit code and stdout.
pub fn runs_cli(stack: &Stack, args: &[&str]) -> (i32, String) {
    let output = std::process::Command::new(crate::harness::bin())
        .arg("runs")
        .args(args)
        .arg("--config")
        .arg(&stack.config)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    (
        output.status.code().unwrap_or(-1),
        format!("{stdout}{stderr}"),
    )
}

/// Waits until run `id` has `status`.
pub async fn until_status(stack: &Stack, id: &str, status: &str) -> Value {
    eventually(Duration::from_secs(20), status, || async {
        let (_, run) = get(stack, &format!("/v1/runs/{id}")).await;
        (run["status"] == status).then_some(run)
    })
    .await
}

/// The step summaries of a run, by task key.
pub fn task<'a>(run: &'a Value, key: &str) -> &'a Value {
    run["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["task"] == key)
        .unwrap_or_else(|| panic!("no task {key} in {run:#}"))
}
