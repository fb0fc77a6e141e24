//! The agent layer over A2A with the official A2A Python SDK (`tests/e2e/a2a_sdk.py`): every
//! workflow is an agent; tasks are runs in sessions; two callers never see each other's tasks.

use std::time::Duration;

use strata_testkit::python::{e2e_dir, python_with_sdks};

use crate::harness::Stack;

const CONFIG: &str = "auth:\n  keys:\n\
    \x20   - { name: alice, key: sk-alice }\n\
    \x20   - { name: bob, key: sk-bob }\n\
    ai:\n  providers:\n    - { name: mock, models: [mock-1] }\n\
    mcp:\n  upstreams:\n    - { name: demo, builtin: demo }\n  servers:\n    - { name: demo, upstreams: [demo] }\n\
    agent:\n  workflows: [\"*.wf.yaml\"]\n  poll_interval: 100ms\n";

pub const QUICK: &str = r#"
name: quick
description: Answers with the model.
metadata: { team: support, examples: ["What is 2 + 3?"] }
steps:
  think:
    llm: { model: mock-1, messages: [{ role: user, content: "{{ input.message }}" }] }
    output: thought
  done: { needs: [think], succeed: { output: "{{ state.thought }}" } }
"#;

pub const CONCIERGE: &str = r#"
name: concierge
description: Asks which account to use, then looks it up with a tool.
steps:
  ask:
    human: { prompt: "Which account for: {{ input.message }}?" }
    output: account
  look:
    needs: [ask]
    tool: { server: demo, name: echo, arguments: { text: "account {{ state.account }}" } }
    output: found
  answer: { needs: [look], succeed: { output: "{{ state.found }}" } }
"#;

const SLOW: &str = r"
name: slow
steps:
  one: { wait: { duration: 1s } }
  two: { needs: [one], wait: { duration: 1s } }
  done: { needs: [two], succeed: { output: slept } }
";

const SCENARIOS: [&str; 10] = [
    "the_card_describes_the_workflow",
    "a_blocking_send_answers_with_the_finished_task",
    "return_immediately_then_poll_with_get_task",
    "a_streamed_send_yields_the_task_then_its_updates",
    "input_required_then_the_next_message_resumes_the_task",
    "a_stream_resumes_after_a_dropped_connection",
    "another_caller_can_neither_see_nor_cancel_the_task",
    "a_finished_task_cannot_be_canceled",
    "the_http_json_binding_works_the_same",
    "requests_without_a_version_speak_0_3",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_a2a_sdk_drives_workflows_as_agents() {
    let Some(python) = python_with_sdks("the_a2a_sdk_drives_workflows_as_agents") else {
        return;
    };
    let stack = Stack::start_with_files(
        CONFIG,
        &[
            ("quick.wf.yaml", QUICK),
            ("concierge.wf.yaml", CONCIERGE),
            ("slow.wf.yaml", SLOW),
        ],
        &[],
        &[],
    )
    .await;
    let out = tokio::time::timeout(
        Duration::from_secs(300),
        tokio::process::Command::new(&python)
            .arg(e2e_dir().join("a2a_sdk.py"))
            .env("STRATA_AGENT_URL", stack.ports.agent_url(""))
            .env("STRATA_KEY_A", "sk-alice")
            .env("STRATA_KEY_B", "sk-bob")
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("a2a_sdk.py finishes")
    .unwrap();
    crate::harness::assert_scenarios(&SCENARIOS, &out, &stack.process.logs());
}
