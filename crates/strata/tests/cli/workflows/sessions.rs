//! Sessions: a conversation across runs (`/v1/sessions`), its runs one at a time, its
//! messages kept in order, its time to live.

use std::time::Duration;

use serde_json::{Value, json};
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
    // The conversation, in order: each run's input, its question, its answer.
    let said: Vec<(String, Value)> = shown["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let part = &m["parts"][0];
            let content = part.get("text").or(part.get("data")).cloned().unwrap();
            (m["role"].as_str().unwrap().to_string(), content)
        })
        .collect();
    let want = [
        ("ROLE_USER", json!({ "n": 1 })),
        ("ROLE_AGENT", json!("Which one?")),
        ("ROLE_AGENT", json!("chose red")),
        ("ROLE_USER", json!({ "n": 2 })),
        ("ROLE_AGENT", json!("Which one?")),
        ("ROLE_AGENT", json!("chose blue")),
    ];
    assert_eq!(said, want.map(|(r, v)| (r.to_string(), v)), "{shown:#}");

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

const CHAT: &str = r#"
name: chat
context: { max_tokens: 70, keep_last: 3, strategy: STRATEGY }
steps:
  reply:
    llm:
      model: any
      messages: [{ role: system, content: "You are terse." }, { role: user, content: "{{ input.message }}" }]
    output: text
  done: { needs: [reply], succeed: { output: "{{ state.text }}" } }
"#;

/// Four turns in one session; the model request of the last one.
async fn fourth_turn(strategy: &str) -> (MockLlm, Vec<Value>) {
    let llm = MockLlm::start().await;
    let chat = CHAT.replace("STRATEGY", strategy);
    let stack = Stack::start_with_files(
        &config(&llm.base_url, ""),
        &[("chat.wf.yaml", chat.as_str())],
        &[],
        &[],
    )
    .await;
    let (_, session) = post(&stack, "/v1/sessions", json!({})).await;
    let sid = session["id"].as_str().unwrap();
    for n in ["one", "two", "three", "four"] {
        let message = format!("turn {n}: tell me something about the number {n}, please");
        let (status, run) = post(
            &stack,
            "/v1/workflows/chat/runs",
            json!({ "input": { "message": message }, "session": sid, "wait": "30s" }),
        )
        .await;
        assert_eq!(
            (status, run["status"].as_str()),
            (200, Some("succeeded")),
            "{run:#}"
        );
    }
    let last = llm.received().last().unwrap().body["messages"]
        .as_array()
        .unwrap()
        .clone();
    (llm, last)
}

fn contents(messages: &[Value]) -> Vec<String> {
    messages
        .iter()
        .map(|m| {
            format!(
                "{}: {}",
                m["role"].as_str().unwrap(),
                m["content"].as_str().unwrap()
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_context_window_keeps_the_system_prompt_and_the_last_turns_within_the_budget() {
    let (_llm, sent) = fourth_turn("truncate_oldest").await;
    let sent = contents(&sent);
    // The full history would be 1 system + 6 earlier turns + the new one; the oldest went.
    assert_eq!(sent[0], "system: You are terse.");
    assert_eq!(
        sent[1..],
        [
            "user: turn three: tell me something about the number three, please",
            "assistant: mock: turn three: tell me something about the number three, please",
            "user: turn four: tell me something about the number four, please",
        ],
        "{sent:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_summarizing_window_replaces_the_oldest_turns_with_a_summary() {
    let (llm, sent) = fourth_turn("summarize").await;
    let sent = contents(&sent);
    assert_eq!(sent[0], "system: You are terse.");
    assert!(
        sent[1].starts_with("system: Summary of the earlier conversation: mock: "),
        "{sent:#?}"
    );
    assert_eq!(sent.len(), 5, "{sent:#?}");
    // The summary was written through the ai layer from the turns that were shed.
    let requests = llm.received();
    let summary = &requests[requests.len() - 2].body["messages"];
    assert!(
        summary[0]["content"]
            .as_str()
            .unwrap()
            .starts_with("Summarize this conversation")
    );
    assert!(
        summary[1]["content"]
            .as_str()
            .unwrap()
            .contains("user: turn one"),
        "{summary:#}"
    );
}
