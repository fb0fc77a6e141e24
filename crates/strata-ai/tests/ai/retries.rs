//! Retries with backoff and Retry-After, circuit breakers, and the first-token timeout.

use std::time::{Duration, Instant};

use serde_json::json;
use strata_testkit::{Behavior, MockLlm};

use crate::routing::{ask, two_providers};
use crate::{chat_request, gateway, json, send};

fn with_retry(yaml: &str, retry: &str) -> String {
    yaml.replace("  retry: { attempts: 0 }\n", &format!("  retry: {retry}\n"))
}

#[tokio::test]
async fn a_429_is_retried_after_its_retry_after() {
    let (a, b) = (MockLlm::start().await, MockLlm::start().await);
    a.script([Behavior::Status(429, Some(1))]);
    let app = gateway(&with_retry(
        &two_providers(&a.base_url, &b.base_url),
        "{ attempts: 2 }",
    ));
    let started = Instant::now();
    let (status, headers, _) = send(&app, chat_request(&ask("m1"))).await;
    assert_eq!(status, 200);
    assert_eq!(
        headers["x-strata-provider"], "primary",
        "served by the retried provider"
    );
    assert_eq!(headers["x-strata-attempts"], "2");
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "waited for Retry-After: {:?}",
        started.elapsed()
    );
    assert_eq!(a.received().len(), 2);
    assert!(b.received().is_empty());
}

#[tokio::test]
async fn server_errors_are_retried_with_backoff_then_fall_back() {
    let (a, b) = (MockLlm::start().await, MockLlm::start().await);
    a.script([
        Behavior::Status(503, None),
        Behavior::Status(502, None),
        Behavior::Status(500, None),
    ]);
    let yaml = with_retry(
        &two_providers(&a.base_url, &b.base_url),
        "{ attempts: 2, backoff: 10ms }",
    );
    let app = gateway(&yaml);
    let (status, headers, _) = send(&app, chat_request(&ask("m1"))).await;
    assert_eq!(status, 200);
    assert_eq!(headers["x-strata-provider"], "backup");
    assert_eq!(headers["x-strata-attempts"], "4");
    assert_eq!(a.received().len(), 3, "one try and two retries");
}

#[tokio::test]
async fn a_long_retry_after_falls_back_at_once() {
    let (a, b) = (MockLlm::start().await, MockLlm::start().await);
    a.script([Behavior::Status(429, Some(3600))]);
    let app = gateway(&with_retry(
        &two_providers(&a.base_url, &b.base_url),
        "{ attempts: 3 }",
    ));
    let started = Instant::now();
    let (status, headers, _) = send(&app, chat_request(&ask("m1"))).await;
    assert_eq!(status, 200);
    assert_eq!(headers["x-strata-provider"], "backup");
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let (a, b) = (MockLlm::start().await, MockLlm::start().await);
    a.script([Behavior::Status(401, None)]);
    let app = gateway(&with_retry(
        &two_providers(&a.base_url, &b.base_url),
        "{ attempts: 3, backoff: 10ms }",
    ));
    let (status, headers, _) = send(&app, chat_request(&ask("m1"))).await;
    // A bad provider key is not fixed by asking again: straight to the fallback.
    assert_eq!(status, 200);
    assert_eq!(headers["x-strata-provider"], "backup");
    assert_eq!(a.received().len(), 1);
}

#[tokio::test]
async fn an_open_circuit_skips_the_provider_until_its_cooldown_ends() {
    let (a, b) = (MockLlm::start().await, MockLlm::start().await);
    a.script((0..2).map(|_| Behavior::Status(500, None)));
    let yaml = two_providers(&a.base_url, &b.base_url).replace(
        "  retry: { attempts: 0 }\n",
        "  retry: { attempts: 0 }\n  circuit_breaker: { failures: 2, cooldown: 300ms }\n",
    );
    let app = gateway(&yaml);
    for _ in 0..2 {
        let (_, headers, _) = send(&app, chat_request(&ask("m1"))).await;
        assert_eq!(headers["x-strata-provider"], "backup");
    }
    assert_eq!(a.received().len(), 2);
    // Open: primary is not even tried.
    let (_, headers, _) = send(&app, chat_request(&ask("m1"))).await;
    assert_eq!(headers["x-strata-provider"], "backup");
    assert_eq!(headers["x-strata-attempts"], "1");
    assert_eq!(a.received().len(), 2);
    // After the cooldown one probe goes through; it succeeds and the circuit closes.
    tokio::time::sleep(Duration::from_millis(350)).await;
    let (_, headers, _) = send(&app, chat_request(&ask("m1"))).await;
    assert_eq!(headers["x-strata-provider"], "primary");
    let (_, headers, _) = send(&app, chat_request(&ask("m1"))).await;
    assert_eq!(headers["x-strata-provider"], "primary");
}

#[tokio::test]
async fn a_stream_without_a_first_token_in_time_falls_back() {
    let (a, b) = (MockLlm::start().await, MockLlm::start().await);
    a.set_chunk_delay(Duration::from_secs(3));
    let yaml = two_providers(&a.base_url, &b.base_url).replace(
        "priority: high,",
        "priority: high, timeouts: { first_token: 300ms },",
    );
    let app = gateway(&yaml);
    let started = Instant::now();
    let req =
        json!({ "model": "m1", "stream": true, "messages": [{ "role": "user", "content": "q" }] });
    let (status, headers, body) = send(&app, chat_request(&req)).await;
    assert_eq!(status, 200);
    assert_eq!(headers["x-strata-provider"], "backup");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(String::from_utf8_lossy(&body).contains("[DONE]"));
    let _ = json;
}
