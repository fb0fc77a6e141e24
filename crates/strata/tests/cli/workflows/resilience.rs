//! Retries with backoff, catch (graceful degradation), compensation in reverse order.

use serde_json::json;
use strata_testkit::{Behavior, MockLlm};

use super::{config, run, runs_cli, task};
use crate::harness::Stack;

const RESILIENT: &str = r#"
name: resilient
defaults:
  retry: [{ errors: [unavailable, rate_limited], max_attempts: 3, interval: 50ms, backoff: 2.0, jitter: true }]
steps:
  flaky:
    llm: { model: m, messages: [{ role: user, content: "try" }] }
    output: first
  fragile:
    needs: [flaky]
    tool: { server: demo, name: echo, arguments: { text: 42 } }
    output: never
    catch: [{ errors: [bad_request], next: fallback }]
  fallback:
    llm: { model: m, messages: [{ role: user, content: "fallback after {{ error.class }} in {{ error.step }}" }] }
    output: degraded
"#;

const SAGA: &str = r#"
name: saga
steps:
  book:
    tool: { server: demo, name: echo, arguments: { text: "booked {{ input.id }}" } }
    output: booking
    compensate: unbook
  charge:
    needs: [book]
    tool: { server: demo, name: echo, arguments: { text: "charged" } }
    compensate: refund
  ship:
    needs: [charge]
    fail: { error: failed, message: "no stock for {{ input.id }}" }
  unbook: { tool: { server: demo, name: echo, arguments: { text: "unbooked {{ steps.book }}" } } }
  refund: { tool: { server: demo, name: echo, arguments: { text: "refunded" } } }
"#;

const DEADLINES: &str = r#"
name: deadlines
steps:
  slow:
    llm: { model: m, messages: [{ role: user, content: "take your time" }] }
    timeout: 200ms
    catch: [{ errors: [timeout], next: quick }]
  quick: { succeed: { output: "gave up waiting" } }
"#;

const OVERDUE: &str = r#"
name: overdue
timeout: 300ms
steps:
  nap: { wait: { duration: 1h } }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_catch_and_compensation() {
    let llm = MockLlm::start().await;
    let stack = Stack::start_with_files(
        &config(&llm.base_url, ""),
        &[
            ("resilient.wf.yaml", RESILIENT),
            ("saga.wf.yaml", SAGA),
            ("deadlines.wf.yaml", DEADLINES),
            ("overdue.wf.yaml", OVERDUE),
        ],
        &[],
        &[],
    )
    .await;

    // Two 503s, then an answer: three attempts, each with its own idempotency key.
    llm.script([Behavior::Status(503, None), Behavior::Status(503, None)]);
    let r = run(&stack, "resilient", json!({})).await;
    assert_eq!(r["status"], "succeeded", "{r:#}");
    assert_eq!(task(&r, "flaky#1")["attempts"], 3);
    let keys: Vec<String> = llm
        .received()
        .iter()
        .filter_map(|req| req.headers.get("idempotency-key"))
        .map(|k| k.to_str().unwrap().to_string())
        .collect();
    let id = r["id"].as_str().unwrap();
    assert_eq!(
        &keys[..3],
        [1, 2, 3].map(|a| format!("{id}/flaky#1/{a}")),
        "every attempt reaches the provider with its own key"
    );
    // The invalid tool arguments are not retried; catch routes to the fallback.
    assert_eq!(task(&r, "fragile#1")["attempts"], 1);
    assert_eq!(task(&r, "fragile#1")["status"], "failed");
    assert_eq!(
        r["state"]["degraded"],
        "mock: fallback after bad_request in fragile"
    );
    assert!(r["state"].get("never").is_none());

    // The saga fails at `ship`; the finished steps are compensated newest first.
    let s = run(&stack, "saga", json!({ "id": 7 })).await;
    assert_eq!(s["status"], "failed", "{s:#}");
    assert_eq!(
        s["error"],
        json!({ "class": "failed", "message": "no stock for 7" })
    );
    let order: Vec<&str> = s["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["task"].as_str().unwrap())
        .collect();
    assert_eq!(
        order,
        [
            "book#1",
            "charge#1",
            "ship#1",
            "refund@charge#1",
            "unbook@book#1"
        ]
    );
    assert_eq!(task(&s, "unbook@book#1")["output"], "unbooked booked 7");

    // Both runs replay from their journals to the same result.
    for run in [&r, &s] {
        let (code, out) = runs_cli(&stack, &["replay", run["id"].as_str().unwrap()]);
        assert_eq!(code, 0, "{out}");
        assert!(out.contains("reproduced"), "{out}");
    }
    // A step's timeout is a `timeout` error (caught here); the run's timeout fails the run,
    // also while it is parked.
    llm.script([Behavior::Delay(std::time::Duration::from_secs(3))]);
    let d = run(&stack, "deadlines", json!({})).await;
    assert_eq!(d["output"], "gave up waiting", "{d:#}");
    assert!(
        task(&d, "slow#1")["error"]
            .as_str()
            .unwrap()
            .starts_with("timeout:")
    );
    let o = run(&stack, "overdue", json!({})).await;
    assert_eq!(o["status"], "failed", "{o:#}");
    assert_eq!(o["error"]["class"], "timeout");

    let (code, out) = runs_cli(&stack, &["show", s["id"].as_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("saga  failed"), "{out}");
    assert!(out.contains("refund@charge#1"), "{out}");
}
