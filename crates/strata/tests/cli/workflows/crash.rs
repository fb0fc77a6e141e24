//! Crash safety: `kill -9` while 100 workflows run; after a restart every run completes, and
//! no step that had finished before the crash reaches the provider again.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use serde_json::{Value, json};
use strata_config::Storage;
use strata_core::Secret;
use strata_store::{RunQuery, Store};
use strata_testkit::{Behavior, MockLlm};

use super::{config, get, start};
use crate::harness::{Stack, eventually};

const THREE: &str = r#"
name: three
steps:
  a:
    llm: { model: m, messages: [{ role: user, content: "a of {{ run.id }}" }] }
    output: a
  b:
    needs: [a]
    llm: { model: m, messages: [{ role: user, content: "b after {{ state.a }}" }] }
    output: b
  c:
    needs: [b]
    llm: { model: m, messages: [{ role: user, content: "c after {{ state.b }}" }] }
    output: c
"#;

const RUNS: usize = 100;

/// The idempotency keys of the step attempts journaled as succeeded, per run.
async fn finished_keys(db_url: &str) -> (HashSet<String>, usize) {
    let store = Store::connect(&Storage {
        url: Secret::new(db_url),
        ..Storage::default()
    })
    .await
    .unwrap();
    let runs = store
        .runs(&RunQuery {
            workflow: Some("three".into()),
            limit: 1000,
            ..RunQuery::default()
        })
        .await
        .unwrap();
    let mut keys = HashSet::new();
    let mut unfinished = 0;
    for run in &runs {
        if run.status != "succeeded" {
            unfinished += 1;
        }
        for e in store.run_events(&run.id, 0, 1000).await.unwrap() {
            let event: Value = serde_json::from_str(&e.data).unwrap();
            if event["kind"] == "step_succeeded" {
                let (task, attempt) = (&event["task"], &event["attempt"]);
                keys.insert(format!("{}/{}/{attempt}", run.id, task.as_str().unwrap()));
            }
        }
    }
    store.close().await;
    (keys, unfinished)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_100_runs_loses_nothing_and_repeats_no_finished_step() {
    let llm = MockLlm::start().await;
    // Every call takes a while, so that the crash finds steps in flight.
    llm.script((0..3 * RUNS).map(|_| Behavior::Delay(Duration::from_millis(150))));
    let mut stack = Stack::start_with_files(
        &config(&llm.base_url, ""),
        &[("three.wf.yaml", THREE)],
        &[],
        &[],
    )
    .await;
    let mut ids = Vec::new();
    for _ in 0..RUNS {
        ids.push(start(&stack, "three", json!({})).await);
    }
    // Let some steps finish, then kill the process without warning.
    eventually(
        Duration::from_secs(20),
        "the first steps to finish",
        || async { (llm.received().len() >= RUNS + 20).then_some(()) },
    )
    .await;
    stack.process.signal("KILL");
    stack.process.wait_exit(Duration::from_secs(10));

    let (done_before, unfinished) = finished_keys(&stack.db_url()).await;
    assert!(!done_before.is_empty(), "some steps had finished");
    assert!(unfinished > 0, "the crash caught runs in flight");

    // A new process takes the runs over once their lease (2 s) runs out.
    stack.restart(&[]).await;
    eventually(Duration::from_secs(60), "every run to succeed", || async {
        let (_, list) = get(
            &stack,
            "/v1/runs?workflow=three&status=succeeded&limit=1000",
        )
        .await;
        (list["runs"].as_array().map_or(0, Vec::len) == RUNS).then_some(())
    })
    .await;

    let mut calls: HashMap<String, usize> = HashMap::new();
    for request in llm.received() {
        let key = request.headers["idempotency-key"]
            .to_str()
            .unwrap()
            .to_string();
        *calls.entry(key).or_default() += 1;
    }
    for key in &done_before {
        assert_eq!(
            calls.get(key),
            Some(&1),
            "{key} finished before the crash and ran again"
        );
    }
    // Every step of every run finished exactly once in its journal, with output chained.
    let (done_after, unfinished) = finished_keys(&stack.db_url()).await;
    assert_eq!(unfinished, 0);
    assert_eq!(done_after.len(), 3 * RUNS, "one success per step");
    for id in &ids {
        let (_, run) = get(&stack, &format!("/v1/runs/{id}")).await;
        assert_eq!(
            run["state"]["c"],
            format!("mock: c after mock: b after mock: a of {id}")
        );
    }
    let repeated = calls.values().filter(|&&n| n > 1).count();
    assert!(
        repeated <= unfinished_in_flight(&done_before, &ids),
        "only attempts in flight at the crash ran twice ({repeated})"
    );
}

/// At most one attempt per unfinished run was in flight (the steps run one after another).
fn unfinished_in_flight(done: &HashSet<String>, ids: &[String]) -> usize {
    ids.iter()
        .filter(|id| done.iter().filter(|k| k.starts_with(id.as_str())).count() < 3)
        .count()
}
