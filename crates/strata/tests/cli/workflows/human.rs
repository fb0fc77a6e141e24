//! Human-in-the-loop: parking until a signal or a timeout, cancel, fork, the event stream.

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{Value, json};
use strata_testkit::MockLlm;

use super::{config, get, post, run, runs_cli, start, until_status};
use crate::harness::Stack;

const APPROVAL: &str = r#"
name: approval
steps:
  ask:
    human: { prompt: "Approve {{ input.amount }}?", schema: { type: object, required: [approved] } }
    output: decision
  decide:
    needs: [ask]
    choice: [{ when: "state.decision.approved", next: "yes" }, { default: "no" }]
  "yes": { succeed: { output: "approved {{ input.amount }}" } }
  "no": { succeed: { output: "rejected" } }
"#;

const IMPATIENT: &str = r#"
name: impatient
steps:
  ask:
    human: { prompt: "?", timeout: 300ms }
    catch: [{ errors: [timeout], next: auto }]
  auto: { succeed: { output: "auto-approved" } }
"#;

const SLEEPY: &str = r#"
name: sleepy
steps:
  nap: { wait: { duration: 1h } }
"#;

async fn stack() -> (MockLlm, Stack) {
    let llm = MockLlm::start().await;
    let stack = Stack::start_with_files(
        &config(&llm.base_url, ""),
        &[
            ("approval.wf.yaml", APPROVAL),
            ("impatient.wf.yaml", IMPATIENT),
            ("sleepy.wf.yaml", SLEEPY),
        ],
        &[],
        &[],
    )
    .await;
    (llm, stack)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn human_steps_park_until_signalled_or_timed_out() {
    let (_llm, stack) = stack().await;
    let id = start(&stack, "approval", json!({ "amount": 120 })).await;
    let waiting = until_status(&stack, &id, "waiting").await;
    assert_eq!(super::task(&waiting, "ask#1")["status"], "waiting");

    // A signal that does not match the step's schema, or names no human step, is refused.
    let path = format!("/v1/runs/{id}/signal");
    let (status, body) = post(&stack, &path, json!({ "step": "ask", "data": { "ok": 1 } })).await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = post(&stack, &path, json!({ "step": "decide", "data": {} })).await;
    assert_eq!(status, 400);

    let (status, _) = post(
        &stack,
        &path,
        json!({ "step": "ask", "data": { "approved": true } }),
    )
    .await;
    assert_eq!(status, 202);
    let done = until_status(&stack, &id, "succeeded").await;
    assert_eq!(done["output"], "approved 120");
    let (status, _) = post(&stack, &path, json!({ "data": {} })).await;
    assert_eq!(status, 409, "a finished run takes no signal");

    // Fork at `decide`: the human's answer is kept, nobody is asked again.
    let (status, fork) = post(
        &stack,
        &format!("/v1/runs/{id}/fork"),
        json!({ "step": "decide" }),
    )
    .await;
    assert_eq!(status, 201, "{fork}");
    let forked = until_status(&stack, fork["id"].as_str().unwrap(), "succeeded").await;
    assert_eq!(forked["output"], "approved 120");
    assert_eq!(forked["forked_from"], id.as_str());
    // Fork at `ask`: the new run waits for its own signal.
    let (_, fork) = post(
        &stack,
        &format!("/v1/runs/{id}/fork"),
        json!({ "step": "ask" }),
    )
    .await;
    let fork_id = fork["id"].as_str().unwrap().to_string();
    until_status(&stack, &fork_id, "waiting").await;
    post(
        &stack,
        &format!("/v1/runs/{fork_id}/signal"),
        json!({ "data": { "approved": false } }),
    )
    .await;
    assert_eq!(
        until_status(&stack, &fork_id, "succeeded").await["output"],
        "rejected"
    );

    // Without a signal the timeout fires and catch takes over.
    let r = run(&stack, "impatient", json!({})).await;
    assert_eq!(r["output"], "auto-approved", "{r:#}");
    let (code, out) = runs_cli(&stack, &["replay", &id]);
    assert_eq!(code, 0, "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_and_the_resumable_event_stream() {
    let (_llm, stack) = stack().await;
    let id = start(&stack, "sleepy", json!({})).await;
    until_status(&stack, &id, "waiting").await;
    let (status, _) = post(
        &stack,
        &format!("/v1/runs/{id}/cancel"),
        json!({ "reason": "test" }),
    )
    .await;
    assert_eq!(status, 202);
    let cancelled = until_status(&stack, &id, "cancelled").await;
    assert_eq!(cancelled["error"]["class"], "cancelled");

    // The CLI cancels too, and says when there is nothing to cancel.
    let other = start(&stack, "sleepy", json!({})).await;
    until_status(&stack, &other, "waiting").await;
    let (code, out) = runs_cli(&stack, &["cancel", &other]);
    assert_eq!(code, 0, "{out}");
    until_status(&stack, &other, "cancelled").await;
    let (code, out) = runs_cli(&stack, &["cancel", &other]);
    assert_eq!(code, 1, "{out}");
    let (code, out) = runs_cli(&stack, &["list", "--workflow", "sleepy"]);
    assert_eq!(code, 0);
    assert_eq!(out.matches("cancelled").count(), 2, "{out}");

    // The journal as SSE: every event once, in order, ending with run_finished; and again
    // from after a given event id.
    let all = events(&stack, &id, None).await;
    let kinds: Vec<&str> = all
        .iter()
        .map(|(_, e)| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "run_started",
            "step_started",
            "step_parked",
            "run_cancelled",
            "run_finished"
        ]
    );
    let ids: Vec<i64> = all.iter().map(|(i, _)| *i).collect();
    assert_eq!(ids, [1, 2, 3, 4, 5]);
    let rest = events(&stack, &id, Some(3)).await;
    assert_eq!(rest.iter().map(|(i, _)| *i).collect::<Vec<_>>(), [4, 5]);
    let (status, _) = get(&stack, "/v1/runs/nope/events").await;
    assert_eq!(status, 404);
}

/// Reads a run's event stream to its end: (id, data) pairs.
async fn events(stack: &Stack, id: &str, after: Option<i64>) -> Vec<(i64, Value)> {
    let mut request =
        reqwest::Client::new().get(stack.ports.agent_url(&format!("/v1/runs/{id}/events")));
    if let Some(after) = after {
        request = request.header("last-event-id", after.to_string());
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    let mut body = String::new();
    let mut stream = response.bytes_stream();
    while let Ok(Some(chunk)) = tokio::time::timeout(Duration::from_secs(10), stream.next()).await {
        body.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
    }
    body.split("\n\n")
        .filter_map(|frame| {
            let id = frame
                .lines()
                .find_map(|l| l.strip_prefix("id:"))?
                .trim()
                .parse()
                .ok()?;
            let data = frame.lines().find_map(|l| l.strip_prefix("data:"))?.trim();
            Some((id, serde_json::from_str(data).unwrap()))
        })
        .collect()
}
