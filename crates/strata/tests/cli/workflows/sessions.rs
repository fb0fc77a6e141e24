//! Sessions: a conversation across runs (`/v1/sessions`), its runs one at a time, its
//! messages kept in order, its time to live.

use std::time::Duration;

use serde_json::json;
use strata_testkit::MockLlm;

use super::{config, get, post, until_status};
use crate::harness::{Stack, eventually};

const ASK: &str = r#"
name: ask
steps:
  ask:
    human: { prompt: "Which one?" }
    output: choice
  done: { needs: [ask], succeed: { output: "chose {{ state.choice }}" } }
"#;

async fn stack(ttl: &str) -> (MockLlm, Stack) {
    let llm = MockLlm::start().await;
    let extra = format!("  session_ttl: {ttl}\n");
    let stack = Stack::start_with_files(
        &config(&llm.base_url, &extra),
        &[("ask.wf.yaml", ASK)],
        &[],
        &[],
    )
    .await;
    (llm, stack)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_of_a_session_take_turns_and_its_conversation_is_kept() {
    let (_llm, stack) = stack("1h").await;
    let (status, session) = post(
        &stack,
        "/v1/sessions",
        json!({ "workflow": "ask", "metadata": { "user": "u1" } }),
    )
    .await;
    assert_eq!(status, 201, "{session:#}");
    let sid = session["id"].as_str().unwrap().to_string();
    let (status, again) = post(&stack, "/v1/sessions", json!({ "id": sid })).await;
    assert_eq!(
        (status, again["error"]["code"].as_str()),
        (409, Some("conflict"))
    );

    let start = |input| {
        let stack = &stack;
        let sid = sid.clone();
        async move {
            let (status, run) = post(
                stack,
                "/v1/workflows/ask/runs",
                json!({ "input": input, "session": sid }),
            )
            .await;
            assert_eq!(status, 201, "{run:#}");
            run["id"].as_str().unwrap().to_string()
        }
    };
    let first = start(json!({ "n": 1 })).await;
    until_status(&stack, &first, "waiting").await;
    let second = start(json!({ "n": 2 })).await;
    // The second run waits for the first, which waits for a person.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let (_, run) = get(&stack, &format!("/v1/runs/{second}")).await;
    assert_eq!(run["status"], "pending", "{run:#}");

    let (status, _) = post(
        &stack,
        &format!("/v1/runs/{first}/signal"),
        json!({ "data": "red" }),
    )
    .await;
    assert_eq!(status, 202);
    until_status(&stack, &first, "succeeded").await;
    until_status(&stack, &second, "waiting").await;
    post(
        &stack,
        &format!("/v1/runs/{second}/signal"),
        json!({ "data": "blue" }),
    )
    .await;
    until_status(&stack, &second, "succeeded").await;

    let (status, shown) = get(&stack, &format!("/v1/sessions/{sid}")).await;
    assert_eq!(status, 200, "{shown:#}");
    assert_eq!(shown["metadata"], json!({ "user": "u1" }));
    let runs: Vec<&str> = shown["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(runs, [first.as_str(), second.as_str()]);
    // The answers, in order: each run asked, then answered.
    let said: Vec<String> = shown["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            m["parts"][0]["text"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    assert_eq!(
        said,
        ["Which one?", "chose red", "Which one?", "chose blue"],
        "{shown:#}"
    );

    let (_, listed) = get(&stack, "/v1/sessions").await;
    assert!(
        listed["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["id"] == sid)
    );
    let (_, by_session) = get(&stack, &format!("/v1/runs?session={sid}")).await;
    assert_eq!(by_session["runs"].as_array().unwrap().len(), 2);

    let deleted = reqwest::Client::new()
        .delete(stack.ports.agent_url(&format!("/v1/sessions/{sid}")))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    let (status, gone) = get(&stack, &format!("/v1/sessions/{sid}")).await;
    assert_eq!(
        (status, gone["error"]["code"].as_str()),
        (404, Some("unknown_session"))
    );
    let (status, _) = post(
        &stack,
        "/v1/workflows/ask/runs",
        json!({ "input": {}, "session": sid }),
    )
    .await;
    assert_eq!(status, 404, "a deleted session takes no runs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_session_expires_after_its_time_to_live() {
    let (_llm, stack) = stack("1s").await;
    let (_, session) = post(&stack, "/v1/sessions", json!({})).await;
    let sid = session["id"].as_str().unwrap().to_string();
    let (status, _) = get(&stack, &format!("/v1/sessions/{sid}")).await;
    assert_eq!(status, 200);
    eventually(Duration::from_secs(10), "the session expires", || async {
        let (status, _) = get(&stack, &format!("/v1/sessions/{sid}")).await;
        (status == 404).then_some(())
    })
    .await;
    let (_, listed) = get(&stack, "/v1/sessions").await;
    assert!(
        !listed["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["id"] == sid)
    );
}
