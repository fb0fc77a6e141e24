//! The local limiter through its public surface, on a manual clock.

use std::sync::atomic::Ordering;

use super::*;

const SEC: u64 = 1_000_000;

fn advance(clock: &AtomicU64, micros: u64) {
    clock.fetch_add(micros, Ordering::Relaxed);
}

fn denial(result: Result<impl std::fmt::Debug, LimitError>) -> Denied {
    match result {
        Err(LimitError::Denied(d)) => d,
        other => panic!("expected a denial, got {other:?}"),
    }
}

#[tokio::test]
async fn requests_burst_then_wait() {
    let (limiter, clock) = Limiter::manual();
    assert!(!limiter.is_shared());
    for _ in 0..60 {
        limiter.request("key:team-a", 60).await.unwrap();
    }
    let d = denial(limiter.request("key:team-a", 60).await);
    assert_eq!(d.limit, LimitKind::Requests);
    assert_eq!(d.scope, "key:team-a");
    assert_eq!(d.retry_after, Some(Duration::from_secs(1)));
    assert_eq!(
        d.message,
        "rate limit of 60 requests/min reached for key team-a"
    );
    assert_eq!(LimitError::Denied(d.clone()).to_string(), d.message);
    advance(&clock, SEC);
    limiter.request("key:team-a", 60).await.unwrap();
    // Another scope is untouched.
    limiter.request("team:ops", 60).await.unwrap();
    let never = denial(limiter.request("key:x", 0).await);
    assert_eq!(never.retry_after, None);
}

#[tokio::test]
async fn tokens_are_refunded_or_charged_on_settle() {
    let (limiter, clock) = Limiter::manual();
    let r = limiter.reserve_tokens("key:a", 1000, 800).await.unwrap();
    assert_eq!(r.estimate(), 800);
    let d = denial(limiter.reserve_tokens("key:a", 1000, 300).await);
    assert_eq!(d.limit, LimitKind::Tokens);
    assert_eq!(d.retry_after, Some(Duration::from_secs(6)));
    // Used 100 of 800: 700 come back.
    limiter.settle_tokens(r, 100).await;
    let r = limiter.reserve_tokens("key:a", 1000, 900).await.unwrap();
    // Used 2900: the meter is 2000 over the limit, a debt of two minutes' worth.
    limiter.settle_tokens(r, 2900).await;
    let d = denial(limiter.reserve_tokens("key:a", 1000, 1).await);
    assert_eq!(d.retry_after, Some(Duration::from_micros(120_060_000)));
    advance(&clock, 121 * SEC);
    let r = limiter.reserve_tokens("key:a", 1000, 1).await.unwrap();
    limiter.settle_tokens(r, 1).await;
}

#[tokio::test]
async fn a_dropped_token_reservation_is_refunded() {
    let (limiter, _clock) = Limiter::manual();
    let r = limiter.reserve_tokens("key:a", 1000, 1000).await.unwrap();
    assert!(limiter.reserve_tokens("key:a", 1000, 1).await.is_err());
    drop(r);
    let r = limiter.reserve_tokens("key:a", 1000, 1000).await.unwrap();
    limiter.settle_tokens(r, 1000).await;
}

#[tokio::test]
async fn an_impossible_token_request_says_so() {
    let (limiter, _clock) = Limiter::manual();
    let d = denial(limiter.reserve_tokens("key:a", 1000, 1001).await);
    assert_eq!(d.retry_after, None);
    assert_eq!(
        d.message,
        "the request needs about 1001 tokens, more than the limit of 1000 tokens/min for key a"
    );
}

#[tokio::test]
async fn permits_are_released_on_drop() {
    let (limiter, _clock) = Limiter::manual();
    let a = limiter.enter("key:a", 2).await.unwrap();
    let b = limiter.enter("key:a", 2).await.unwrap();
    let d = denial(limiter.enter("key:a", 2).await);
    assert_eq!(d.limit, LimitKind::Concurrent);
    assert_eq!(d.retry_after, Some(Duration::from_secs(1)));
    assert_eq!(
        d.message,
        "concurrency limit of 2 requests in flight reached for key a"
    );
    drop(a);
    let c = limiter.enter("key:a", 2).await.unwrap();
    drop((b, c));
    assert_eq!(denial(limiter.enter("key:a", 0).await).retry_after, None);
}

#[tokio::test]
async fn permits_hold_under_contention() {
    let limiter = Limiter::local();
    let inside = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..64 {
        let (limiter, inside) = (limiter.clone(), Arc::clone(&inside));
        tasks.push(tokio::spawn(async move {
            let mut admitted = 0;
            for _ in 0..200 {
                if let Ok(permit) = limiter.enter("s", 3).await {
                    let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                    assert!(now <= 3, "{now} inside");
                    tokio::task::yield_now().await;
                    inside.fetch_sub(1, Ordering::SeqCst);
                    drop(permit);
                    admitted += 1;
                }
            }
            admitted
        }));
    }
    let mut total = 0;
    for task in tasks {
        total += task.await.unwrap();
    }
    assert!(total > 0);
    // Everything was given back.
    let all: Vec<_> = futures_util::future::join_all((0..3).map(|_| limiter.enter("s", 3))).await;
    assert!(all.iter().all(Result::is_ok));
}

#[tokio::test]
async fn budgets_reserve_settle_and_refuse() {
    let (limiter, _clock) = Limiter::manual();
    let key = "key:team-a:2026-11";
    let ttl = Duration::from_secs(3600);
    assert!(limiter.seed_budget(key, 60_000, ttl).await.unwrap());
    assert!(!limiter.seed_budget(key, 0, ttl).await.unwrap());
    let a = limiter.reserve_budget(key, 100_000, 30_000).await.unwrap();
    assert_eq!(a.estimate_micros(), 30_000);
    assert_eq!(a.period_key(), key);
    let d = denial(limiter.reserve_budget(key, 100_000, 10_001).await);
    assert_eq!(d.limit, LimitKind::Budget);
    assert_eq!(d.retry_after, None);
    assert_eq!(
        d.message,
        "budget of $0.10 reached for key team-a:2026-11 (spent $0.06, $0.03 reserved by calls in progress)"
    );
    let b = limiter.reserve_budget(key, 100_000, 10_000).await.unwrap();
    assert_eq!(limiter.budget_state(key).await.unwrap(), (60_000, 40_000));
    // One call cost more than estimated, the other less: overspend is that one call's excess.
    limiter.settle_budget(a, 45_000).await;
    limiter.settle_budget(b, 2_000).await;
    assert_eq!(limiter.budget_state(key).await.unwrap(), (107_000, 0));
    assert!(limiter.reserve_budget(key, 100_000, 0).await.is_err());
}

#[tokio::test]
async fn a_dropped_budget_reservation_releases_its_hold() {
    let (limiter, _clock) = Limiter::manual();
    let r = limiter.reserve_budget("p", 100, 100).await.unwrap();
    assert!(limiter.reserve_budget("p", 100, 1).await.is_err());
    drop(r);
    assert_eq!(limiter.budget_state("p").await.unwrap(), (0, 0));
    let r = limiter.reserve_budget("p", 100, 100).await.unwrap();
    limiter.settle_budget(r, 0).await;
    // Negative estimates count as zero.
    let r = limiter.reserve_budget("p", 100, -5).await.unwrap();
    assert_eq!(r.estimate_micros(), 0);
}

#[test]
fn money_and_scopes_read_well() {
    assert_eq!(usd(1_500_000), "$1.50");
    assert_eq!(usd(1_234), "$0.001234");
    assert_eq!(usd(0), "$0.00");
    assert_eq!(usd(-2_000_000), "-$2.00");
    assert_eq!(usd(123_456_789), "$123.456789");
    assert_eq!(describe("key:team-a:2026-11"), "key team-a:2026-11");
    assert_eq!(describe("plain"), "plain");
}

/// The ai layer awaits these in axum handlers, which need `Send` futures.
#[tokio::test]
async fn futures_are_send() {
    fn send<T: Send>(_: T) {}
    let limiter = Limiter::local();
    send(limiter.request("s", 1));
    send(limiter.reserve_tokens("s", 1, 1));
    send(limiter.enter("s", 1));
    send(limiter.seed_budget("p", 0, Duration::from_secs(1)));
    send(limiter.reserve_budget("p", 1, 1));
    send(limiter.budget_state("p"));
    let tokens = limiter.reserve_tokens("s", 1, 1).await.unwrap();
    send(limiter.settle_tokens(tokens, 1));
    let budget = limiter.reserve_budget("p", 1, 1).await.unwrap();
    send(limiter.settle_budget(budget, 1));
    let limiter: Box<dyn Fn() -> Limiter + Send + Sync> = Box::new(Limiter::local);
    drop(limiter);
}
