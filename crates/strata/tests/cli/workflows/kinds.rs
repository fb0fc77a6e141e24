//! Every step kind in one stack.

use serde_json::json;
use strata_testkit::MockLlm;

use super::{config, run, task};
use crate::harness::Stack;

const TRIAGE: &str = r#"
name: triage
input: { type: object, required: [ticket] }
state:
  findings: { reducer: append }
  ticket: { reducer: merge }
steps:
  classify:
    llm:
      model: smart
      messages: [{ role: user, content: '{"severity": "{{ input.severity }}", "topics": ["billing", "login"]}' }]
      output_schema: { type: object, required: [severity, topics] }
    output: ticket.class
  lookup:
    needs: [classify]
    tool: { server: demo, name: add, arguments: { a: 2, b: "{{ input.n }}" } }
    output: ticket.account
  research:
    needs: [classify]
    map: { items: "state.ticket.class.topics", max_concurrency: 2 }
    agent: { name: kb, message: "{{ item }}" }
    output: findings
  both:
    needs: [classify]
    parallel:
      branches:
        echo: { tool: { server: demo, name: echo, arguments: { text: "hi {{ input.ticket }}" } } }
        ask: { llm: { model: smart, messages: [{ role: user, content: "second opinion" }] } }
    output: opinions
  draft:
    needs: [lookup, research, both]
    llm: { model: writer, messages: [{ role: user, content: "Reply to {{ input.ticket }} using {{ state.findings | join(', ') }}" }] }
    output: answer
  route:
    needs: [draft]
    choice:
      - { when: "state.ticket.class.severity == 'high'", next: escalate }
      - { default: done }
  escalate: { handoff: { agent: oncall, message: "{{ state.answer }}" } }
  done: { succeed: { output: { answer: "{{ state.answer }}", account: "{{ state.ticket.account }}" } } }
"#;

const KB: &str = r#"
name: kb
steps:
  look:
    wait: { duration: 10ms }
  answer:
    needs: [look]
    llm: { model: smart, messages: [{ role: user, content: "kb {{ input.message }}" }] }
    output: text
output: "{{ state.text }}"
"#;

const ONCALL: &str = r#"
name: oncall
steps:
  page:
    workflow: { name: kb, input: { message: "page: {{ input.message }}" } }
    output: paged
  stop:
    needs: [page]
    fail: { error: failed, message: "oncall paged with {{ state.paged }}" }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_step_kind_runs_through_the_layers() {
    let llm = MockLlm::start().await;
    let stack = Stack::start_with_files(
        &config(&llm.base_url, ""),
        &[
            ("triage.wf.yaml", TRIAGE),
            ("kb.wf.yaml", KB),
            ("oncall.wf.yaml", ONCALL),
        ],
        &["--layers", "ai,mcp,agent"],
        &[],
    )
    .await;

    // Low severity: choice → done (succeed).
    let low = run(
        &stack,
        "triage",
        json!({ "ticket": "T-1", "severity": "low", "n": 3 }),
    )
    .await;
    assert_eq!(low["status"], "succeeded", "{low:#}");
    assert_eq!(
        low["output"],
        json!({ "answer": "mock: Reply to T-1 using mock: kb billing, mock: kb login", "account": 5 })
    );
    assert_eq!(
        low["state"]["ticket"]["class"],
        json!({ "severity": "low", "topics": ["billing", "login"] })
    );
    assert_eq!(low["state"]["opinions"]["echo"], "hi T-1");
    assert_eq!(low["state"]["opinions"]["ask"], "mock: second opinion");
    assert_eq!(task(&low, "route#1")["output"], json!({ "next": "done" }));
    assert_eq!(task(&low, "research#1[1]")["status"], "succeeded");
    assert!(task(&low, "research#1[0]")["child_run"].is_string());
    assert!(low["tokens"]["input"].as_u64().unwrap() > 0, "{low:#}");

    // High severity: choice → handoff to oncall, whose sub-workflow runs and then fails.
    let high = run(
        &stack,
        "triage",
        json!({ "ticket": "T-2", "severity": "high", "n": 1 }),
    )
    .await;
    assert_eq!(high["status"], "failed", "{high:#}");
    assert_eq!(task(&high, "escalate#1")["status"], "failed");
    assert!(
        high["error"]["message"]
            .as_str()
            .unwrap()
            .contains("oncall paged with mock: kb page: mock: Reply to T-2"),
        "{high:#}"
    );

    // Bad input is refused before a run exists.
    let (status, body) =
        super::post(&stack, "/v1/workflows/triage/runs", json!({ "input": {} })).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "invalid_input");
}

/// The workflow the embedded defaults serve (README quickstart) runs on the built-in mock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_demo_workflow_runs() {
    let stack = super::demo_stack().await;
    let r = run(&stack, "demo", json!({ "question": "hi" })).await;
    assert_eq!(r["status"], "succeeded", "{r:#}");
    assert_eq!(r["output"], json!({ "thought": "mock: hi", "sum": 5 }));
    let r = run(&stack, "demo", json!({})).await;
    assert_eq!(r["output"]["thought"], "mock: What is 2 + 3?");
}
