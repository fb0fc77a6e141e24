//! Budget reservations raced by two replicas.

use std::time::Duration;

use futures_util::future::join_all;
use strata_policy::limits::{Leases, LimitKind, Limiter};

use crate::{denial, eventually, replicas, replicas_at};

const TTL: Duration = Duration::from_secs(300);

async fn race(a: Limiter, b: Limiter) {
    let key = "key:team-a:2026-11";
    assert!(a.seed_budget(key, 0, TTL).await.unwrap());
    assert!(!b.seed_budget(key, 5, TTL).await.unwrap());
    let calls = (0..50).map(|i| {
        let limiter = if i % 2 == 0 { a.clone() } else { b.clone() };
        async move { limiter.reserve_budget(key, 100_000, 10_000).await }
    });
    let results = join_all(calls).await;
    let mut admitted = Vec::new();
    for result in results {
        match result {
            Ok(reservation) => admitted.push(reservation),
            Err(e) => assert_eq!(denial::<()>(Err(e)).limit, LimitKind::Budget),
        }
    }
    assert_eq!(admitted.len(), 10);
    assert_eq!(a.budget_state(key).await.unwrap(), (0, 100_000));
    // Settle with actual costs, some above the estimate and some below.
    let mut total = 0;
    for (i, reservation) in admitted.into_iter().enumerate() {
        let actual = 7_000 + 700 * i as i64;
        total += actual;
        let limiter = if i % 2 == 0 { &b } else { &a };
        limiter.settle_budget(reservation, actual).await;
    }
    assert_eq!(b.budget_state(key).await.unwrap(), (total, 0));
    // Over the limit now: even a zero estimate is refused, with no retry_after.
    assert!(total > 100_000);
    let d = denial(a.reserve_budget(key, 100_000, 0).await);
    assert_eq!(d.retry_after, None);
    assert_eq!(d.scope, key);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn budget_race_across_replicas() {
    if let Some((a, b)) = replicas("limits::budget_race_across_replicas", Leases::default()).await {
        race(a, b).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn budget_race_local() {
    let local = Limiter::local();
    race(local.clone(), local).await;
}

#[tokio::test]
async fn seeded_spend_counts_and_dropped_reservations_release() {
    let prefix = format!("strata-test:{}:", uuid::Uuid::new_v4().simple());
    let test = "limits::seeded_spend_counts_and_dropped_reservations_release";
    let Some((a, b)) = replicas_at(test, Leases::default(), &prefix).await else {
        return;
    };
    let key = "team:ops:2026-11";
    // Reserving before seeding does not stop the seed from setting spent.
    let early = a.reserve_budget(key, 100_000, 1_000).await.unwrap();
    assert!(b.seed_budget(key, 94_000, TTL).await.unwrap());
    let d = denial(b.reserve_budget(key, 100_000, 6_000).await);
    assert_eq!(
        d.message,
        "budget of $0.10 reached for team ops:2026-11 (spent $0.094, $0.001 reserved by calls in progress)"
    );
    let fits = b.reserve_budget(key, 100_000, 5_000).await.unwrap();
    assert_eq!(a.budget_state(key).await.unwrap(), (94_000, 6_000));
    drop(fits);
    drop(early);
    eventually("the release of dropped reservations", || {
        let a = a.clone();
        async move { a.budget_state(key).await.unwrap() == (94_000, 0) }
    })
    .await;
    // The counter lives for the seed's TTL, not the fallback one.
    let ttl = pttl(&format!("{prefix}budget:{key}")).await;
    assert!(ttl > 0 && ttl <= 300_000, "{ttl}");
}

/// A key's TTL in milliseconds, read through a connection of its own.
async fn pttl(key: &str) -> i64 {
    let url = strata_testkit::service_url(strata_testkit::Service::Redis).unwrap();
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    redis::cmd("PTTL")
        .arg(key)
        .query_async(&mut conn)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_crashed_replicas_reservation_expires() {
    let leases = Leases {
        reservation: Duration::from_secs(1),
        ..Leases::default()
    };
    let Some((a, b)) = replicas("limits::a_crashed_replicas_reservation_expires", leases).await
    else {
        return;
    };
    let key = "key:crash:2026-11";
    assert!(a.seed_budget(key, 0, TTL).await.unwrap());
    // The replica dies mid-call: its reservation is never settled nor released.
    std::mem::forget(a.reserve_budget(key, 50_000, 50_000).await.unwrap());
    assert!(b.reserve_budget(key, 50_000, 1).await.is_err());
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let r = b.reserve_budget(key, 50_000, 50_000).await.unwrap();
    b.settle_budget(r, 20_000).await;
    assert_eq!(a.budget_state(key).await.unwrap(), (20_000, 0));
}
