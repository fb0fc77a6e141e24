//! Requests and tokens per minute admitted together by two replicas.

use std::time::Instant;

use futures_util::future::join_all;
use strata_policy::limits::{Leases, LimitKind, Limiter};

use crate::{denial, replicas};

/// What may drain during `elapsed` at `per_minute`, rounded up, plus one for rounding.
fn drained(started: Instant, per_minute: u64) -> u64 {
    let secs = started.elapsed().as_secs_f64();
    (secs * per_minute as f64 / 60.0).ceil() as u64 + 1
}

async fn requests_are_shared(a: Limiter, b: Limiter) {
    let per_minute = 120;
    let started = Instant::now();
    let calls = (0..400).map(|i| {
        let limiter = if i % 2 == 0 { a.clone() } else { b.clone() };
        async move { limiter.request("key:team-a", per_minute).await }
    });
    let results = join_all(calls).await;
    let admitted = results.iter().filter(|r| r.is_ok()).count() as u64;
    assert!(admitted >= per_minute, "{admitted} admitted");
    assert!(
        admitted <= per_minute + drained(started, per_minute),
        "{admitted} admitted"
    );
    let refused = results.into_iter().find(Result::is_err).unwrap();
    let d = denial(refused);
    assert_eq!(d.limit, LimitKind::Requests);
    assert_eq!(d.scope, "key:team-a");
    assert!(d.retry_after.unwrap() <= std::time::Duration::from_millis(500));
    assert_eq!(
        d.message,
        "rate limit of 120 requests/min reached for key team-a"
    );
    // Another scope has its own allowance.
    b.request("key:team-b", per_minute).await.unwrap();
}

async fn tokens_are_shared(a: Limiter, b: Limiter) {
    let (per_minute, estimate) = (6000, 100);
    let started = Instant::now();
    let reserve = |n: usize| {
        join_all((0..n).map(|i| {
            let limiter = if i % 2 == 0 { a.clone() } else { b.clone() };
            async move {
                limiter
                    .reserve_tokens("team:ops", per_minute, estimate)
                    .await
            }
        }))
    };
    let held: Vec<_> = reserve(200)
        .await
        .into_iter()
        .filter_map(Result::ok)
        .collect();
    let admitted = held.len() as u64;
    assert!(admitted * estimate >= per_minute, "{admitted} admitted");
    let bound = per_minute + drained(started, per_minute);
    assert!(admitted * estimate <= bound, "{admitted} admitted");
    // Each call used half its estimate: the other half comes back.
    for (i, reservation) in held.into_iter().enumerate() {
        let limiter = if i % 2 == 0 { &a } else { &b };
        limiter.settle_tokens(reservation, estimate / 2).await;
    }
    let more = reserve(200)
        .await
        .into_iter()
        .filter_map(Result::ok)
        .collect::<Vec<_>>();
    let refunded = admitted * estimate / 2;
    let fitted = more.len() as u64 * estimate;
    assert!(
        fitted + estimate > refunded,
        "{fitted} tokens fitted after refunds of {refunded}"
    );
    assert!(fitted <= refunded + drained(started, per_minute) + estimate);
    for reservation in more {
        a.settle_tokens(reservation, estimate).await;
    }
    // A call that used far more than estimated leaves a debt both replicas see.
    let small = a.reserve_tokens("team:dev", per_minute, 1).await.unwrap();
    a.settle_tokens(small, 10 * per_minute).await;
    let d = denial(b.reserve_tokens("team:dev", per_minute, 1).await);
    assert_eq!(d.limit, LimitKind::Tokens);
    assert!(d.retry_after.unwrap().as_secs() >= 500, "{d:?}");
    // An estimate above the whole allowance never passes.
    let d = denial(
        b.reserve_tokens("team:ci", per_minute, per_minute + 1)
            .await,
    );
    assert_eq!(d.retry_after, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn requests_are_shared_by_replicas() {
    if let Some((a, b)) =
        replicas("limits::requests_are_shared_by_replicas", Leases::default()).await
    {
        requests_are_shared(a, b).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn requests_local() {
    let local = Limiter::local();
    requests_are_shared(local.clone(), local).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tokens_are_shared_by_replicas() {
    if let Some((a, b)) = replicas("limits::tokens_are_shared_by_replicas", Leases::default()).await
    {
        tokens_are_shared(a, b).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tokens_local() {
    let local = Limiter::local();
    tokens_are_shared(local.clone(), local).await;
}

#[tokio::test]
async fn a_dropped_token_reservation_is_refunded_on_redis() {
    let Some((a, b)) = replicas(
        "limits::a_dropped_token_reservation_is_refunded_on_redis",
        Leases::default(),
    )
    .await
    else {
        return;
    };
    let reservation = a.reserve_tokens("key:x", 1000, 1000).await.unwrap();
    assert!(b.reserve_tokens("key:x", 1000, 500).await.is_err());
    drop(reservation);
    crate::eventually("the refund", || {
        let b = b.clone();
        async move {
            match b.reserve_tokens("key:x", 1000, 500).await {
                Ok(r) => {
                    b.settle_tokens(r, 500).await;
                    true
                }
                Err(_) => false,
            }
        }
    })
    .await;
}
