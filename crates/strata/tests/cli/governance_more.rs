//! ai-layer governance end to end, continued: concurrency limits, the response cache (scope,
//! normal form, TTL, streams, metrics, Redis shared by two processes), and usage records that
//! survive a crash with the key's tags.

use std::time::Duration;

use serde_json::{Value, json};
use strata_testkit::{Behavior, MockLlm};

use crate::harness::{Stack, eventually};

fn chat_body(text: &str) -> Value {
    json!({ "model": "mock-1", "max_tokens": 16, "messages": [{ "role": "user", "content": text }] })
}

async fn post(stack: &Stack, key: &str, body: &Value, extra: &[(&str, &str)]) -> reqwest::Response {
    let url = format!("http://127.0.0.1:{}/v1/chat/completions", stack.ports.ai);
    let mut request = reqwest::Client::new().post(url).bearer_auth(key).json(body);
    for (name, value) in extra {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

fn cache_result(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("x-strata-cache")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_calls_beyond_a_keys_limit_are_refused() {
    let llm = MockLlm::start().await;
    llm.script((0..4).map(|_| Behavior::Delay(Duration::from_millis(600))));
    let stack = Stack::start(
        &format!(
            "auth:\n  keys:\n    - {{ name: two, key: sk-two, limits: {{ concurrent: 2 }} }}\n\
             ai:\n  providers:\n    - {{ name: up, kind: openai, api_base: '{}', models: [mock-1] }}\n",
            llm.base_url
        ),
        &[],
        &[],
    )
    .await;
    let calls = (0..5).map(|i| {
        let body = chat_body(&format!("call {i}"));
        let stack = &stack;
        async move { post(stack, "sk-two", &body, &[]).await }
    });
    let responses = futures_util::future::join_all(calls).await;
    let mut statuses: Vec<u16> = responses.iter().map(|r| r.status().as_u16()).collect();
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 200, 429, 429, 429]);
    let refused = responses.iter().find(|r| r.status() == 429).unwrap();
    assert!(refused.headers().contains_key("retry-after"));
    // The slots free up when the calls end.
    let r = post(&stack, "sk-two", &chat_body("later"), &[]).await;
    assert_eq!(r.status(), 200);
}

const CACHED: &str = "
auth:
  keys:
    - { name: a1, key: sk-a1, team: blue }
    - { name: a2, key: sk-a2, team: blue }
    - { name: b, key: sk-b }
  teams:
    - { name: blue }
ai:
  providers:
    - { name: mock, models: [mock-1] }
  cache: { ttl: 1s }
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cache_keeps_answers_per_scope_in_normal_form_for_their_ttl() {
    let stack = Stack::start(CACHED, &[], &[]).await;
    let first = post(&stack, "sk-a1", &chat_body("cache me"), &[]).await;
    assert_eq!(cache_result(&first), "miss");
    let first: Value = first.json().await.unwrap();
    // The same request with its keys in another order, by a key of the same team: a hit, the
    // same answer.
    let reordered = json!({ "messages": [{ "content": "cache me", "role": "user" }],
        "max_tokens": 16, "model": "mock-1" });
    let hit = post(&stack, "sk-a2", &reordered, &[]).await;
    assert_eq!(cache_result(&hit), "hit");
    assert_eq!(hit.json::<Value>().await.unwrap(), first);
    // Another scope does not see it; the opt-out header bypasses it.
    let other = post(&stack, "sk-b", &chat_body("cache me"), &[]).await;
    assert_eq!(cache_result(&other), "miss");
    let bypass = post(
        &stack,
        "sk-a1",
        &chat_body("cache me"),
        &[("x-strata-cache", "no-cache")],
    )
    .await;
    assert_ne!(cache_result(&bypass), "hit");
    // A stream is replayed as a stream, marked as a hit.
    let mut stream = chat_body("stream me");
    stream["stream"] = json!(true);
    let live = post(&stack, "sk-b", &stream, &[]).await;
    assert_eq!(cache_result(&live), "miss");
    let live_text = live.text().await.unwrap();
    let replayed = post(&stack, "sk-b", &stream, &[]).await;
    assert_eq!(cache_result(&replayed), "hit");
    assert!(
        replayed.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    assert_eq!(replayed.text().await.unwrap(), live_text);
    // After the TTL the answer is gone.
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let expired = post(&stack, "sk-a1", &chat_body("cache me"), &[]).await;
    assert_eq!(cache_result(&expired), "miss");
    // Hits and misses are counted.
    let metrics = reqwest::get(stack.ports.admin_url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let count = |result: &str| {
        metrics
            .lines()
            .find(|l| {
                l.starts_with("strata_ai_cache_requests_total")
                    && l.contains(&format!("result=\"{result}\""))
            })
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|n| n.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    assert_eq!(count("hit"), 2.0, "{metrics}");
    assert_eq!(count("miss"), 4.0, "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_share_the_cache_through_redis() {
    let Some(redis) = strata_testkit::service_url(strata_testkit::Service::Redis) else {
        strata_testkit::skip(
            "two_processes_share_the_cache_through_redis",
            "STRATA_TEST_REDIS_URL is not set",
        );
        return;
    };
    let extra = format!(
        "storage: {{ redis: '{redis}' }}\n{}",
        CACHED.replace("ttl: 1s", "ttl: 1m")
    );
    let (a, b) = tokio::join!(
        Stack::start(&extra, &["--layers", "ai"], &[]),
        Stack::start(&extra, &["--layers", "ai"], &[])
    );
    // A text of its own: entries in Redis outlive a test run.
    let text = format!("shared {}", strata_core::new_id());
    let miss = post(&a, "sk-a1", &chat_body(&text), &[]).await;
    assert_eq!(cache_result(&miss), "miss");
    let answer: Value = miss.json().await.unwrap();
    let hit = post(&b, "sk-a2", &chat_body(&text), &[]).await;
    assert_eq!(cache_result(&hit), "hit");
    assert_eq!(hit.json::<Value>().await.unwrap(), answer);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_records_survive_kill_9_with_the_keys_tags() {
    let mut stack = Stack::start(
        "auth:\n  keys:\n    - { name: tagged, key: sk-tagged, metadata: { cost_center: cc-7 } }\n\
         ai:\n  providers:\n    - { name: mock, models: [mock-1] }\n",
        &[],
        &[],
    )
    .await;
    for i in 0..25 {
        let r = post(&stack, "sk-tagged", &chat_body(&format!("call {i}")), &[]).await;
        assert_eq!(r.status(), 200);
    }
    // No time to commit the last batch: the records wait in the spool.
    stack.process.signal("KILL");
    stack.process.wait_exit(Duration::from_secs(10));
    stack.restart(&[]).await;
    let db = stack.db_url();
    let rows = eventually(Duration::from_secs(10), "25 usage records", || {
        let db = db.clone();
        async move {
            let storage = strata_config::Storage {
                url: strata_core::Secret::new(db),
                ..Default::default()
            };
            let store = strata_store::Store::connect(&storage).await.ok()?;
            let rows: Vec<(String,)> =
                sqlx::query_as("SELECT metadata FROM usage_ledger WHERE key_name = 'tagged'")
                    .fetch_all(store.pool())
                    .await
                    .ok()?;
            store.close().await;
            (rows.len() == 25).then_some(rows)
        }
    })
    .await;
    for (metadata,) in rows {
        let tags: Value = serde_json::from_str(&metadata).unwrap();
        assert_eq!(tags["cost_center"], "cc-7");
    }
}
