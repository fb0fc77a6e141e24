//! `GET /v1/runs/{id}/trace`: a run's hops as a tree from its journal.

use serde_json::json;

use super::{get, run};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runs_trace_shows_steps_attempts_and_the_calls_through_each_layer() {
    let stack = super::demo_stack().await;
    let r = run(&stack, "demo", json!({ "question": "hi" })).await;
    assert_eq!(r["status"], "succeeded", "{r:#}");
    let id = r["id"].as_str().unwrap();
    let (status, trace) = get(&stack, &format!("/v1/runs/{id}/trace")).await;
    assert_eq!(status, 200, "{trace:#}");
    assert_eq!(trace["kind"], "run");
    assert_eq!(trace["status"], "succeeded");
    let steps = trace["children"].as_array().unwrap();
    let names: Vec<&str> = steps.iter().map(|s| s["step"].as_str().unwrap()).collect();
    assert_eq!(names, ["think", "add", "answer"]);
    assert_eq!(steps[0]["task"], "think#1", "a task is a visit of a step");
    assert!(
        steps.iter().all(|s| s["decision"] == "succeeded"),
        "{trace:#}"
    );
    let call = |step: usize| &steps[step]["children"][0]["children"][0];
    let model = call(0);
    assert_eq!(model["layer"], "ai");
    assert_eq!(model["target"], "mock-1");
    assert_eq!(model["outcome"], "ok");
    assert!(model["tokens"]["input"].as_u64().unwrap() > 0, "{model:#}");
    let tool = call(1);
    assert_eq!(tool["layer"], "mcp");
    assert_eq!(tool["target"], "demo/add");
    assert_eq!(tool["outcome"], "ok");
    assert_eq!(steps[0]["children"][0]["attempt"], 1);
    assert_eq!(
        trace["tokens"]["input"], model["tokens"]["input"],
        "run totals add up the calls"
    );
    let (status, _) = get(&stack, "/v1/runs/nope/trace").await;
    assert_eq!(status, 404);
}

const PARENT: &str = r#"
name: parent
steps:
  ask:
    agent: { name: demo, message: "from the parent" }
    output: answer
  done: { needs: [ask], succeed: { output: "{{ state.answer }}" } }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_agent_call_is_part_of_the_callers_trace() {
    let demo = include_str!("../../../../strata-app/src/demo.wf.yaml");
    let stack = crate::harness::Stack::start_with_files(
        "ai:\n  providers:\n    - name: mock\n      models: [mock-1]\n\
         mcp:\n  upstreams:\n    - { name: demo, builtin: demo }\n  servers:\n    - { name: demo, upstreams: [demo] }\n\
         agent:\n  workflows: [\"*.wf.yaml\"]\n  poll_interval: 100ms\n",
        &[("demo.wf.yaml", demo), ("parent.wf.yaml", PARENT)],
        &[],
        &[],
    )
    .await;
    let r = run(&stack, "parent", json!({})).await;
    assert_eq!(r["status"], "succeeded", "{r:#}");
    let id = r["id"].as_str().unwrap();
    let (_, parent) = get(&stack, &format!("/v1/runs/{id}/trace")).await;
    let (_, children) = get(&stack, &format!("/v1/runs?parent_id={id}")).await;
    let child = children["runs"][0]["id"].as_str().unwrap();
    let (_, trace) = get(&stack, &format!("/v1/runs/{child}/trace")).await;
    assert_eq!(
        trace["trace_id"], parent["trace_id"],
        "one trace: {trace:#}"
    );
    let attempt = &parent["children"][0]["children"][0];
    assert_eq!(
        trace["parent_span_id"], attempt["span_id"],
        "under the attempt that called it"
    );
    assert_eq!(parent["parent_span_id"], serde_json::Value::Null);
}
