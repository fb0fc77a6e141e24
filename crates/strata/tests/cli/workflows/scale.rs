//! Scale-out on Postgres: two `strata` processes share one database; when one is killed,
//! the other takes its runs over after their lease runs out and finishes them.

use std::time::Duration;

use serde_json::json;
use strata_testkit::{Behavior, FreshDatabase, MockLlm, Service, service_url, skip};

use super::{config, get, start};
use crate::harness::{Stack, eventually};

const SLOW: &str = r#"
name: slow
steps:
  a: { llm: { model: m, messages: [{ role: user, content: "a" }] }, output: a }
  b: { needs: [a], llm: { model: m, messages: [{ role: user, content: "b {{ run.id }}" }] }, output: b }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_process_takes_over_the_runs_of_a_killed_one() {
    let Some(base) = service_url(Service::Postgres) else {
        skip("workflows::scale", "STRATA_TEST_POSTGRES_URL is not set");
        return;
    };
    let db = FreshDatabase::create(&base).await.unwrap();
    let llm = MockLlm::start().await;
    llm.script((0..200).map(|_| Behavior::Delay(Duration::from_millis(200))));
    let storage = format!("storage:\n  url: {}\n", db.url);
    let extra = config(&llm.base_url, "");
    let a = shared_stack(&extra, &storage).await;
    let b = shared_stack(&extra, &storage).await;

    let mut ids = Vec::new();
    for i in 0..40 {
        let stack = if i % 2 == 0 { &a } else { &b };
        ids.push(start(stack, "slow", json!({})).await);
    }
    eventually(Duration::from_secs(20), "some steps to finish", || async {
        (llm.received().len() >= 30).then_some(())
    })
    .await;
    let mut a = a;
    a.process.signal("KILL");
    a.process.wait_exit(Duration::from_secs(10));

    eventually(
        Duration::from_secs(60),
        "every run to succeed on b",
        || async {
            let (_, list) = get(&b, "/v1/runs?workflow=slow&status=succeeded&limit=100").await;
            (list["runs"].as_array().map_or(0, Vec::len) == ids.len()).then_some(())
        },
    )
    .await;
    for id in &ids {
        let (_, run) = get(&b, &format!("/v1/runs/{id}")).await;
        assert_eq!(run["state"]["b"], format!("mock: b {id}"), "{run:#}");
    }
    drop(b);
    db.drop_database().await.unwrap();
}

/// A stack whose storage is `storage` (the shared database) instead of its own SQLite file.
async fn shared_stack(extra: &str, storage: &str) -> Stack {
    Stack::start_with_files(
        &format!("{storage}{extra}"),
        &[("slow.wf.yaml", SLOW)],
        &[],
        &[],
    )
    .await
}
