//! Concurrency permits shared by two replicas, and leases that outlive their holder.

use std::time::Duration;

use futures_util::future::join_all;
use strata_policy::limits::{Leases, LimitKind};

use crate::{denial, eventually, replicas};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn permits_are_shared_by_replicas() {
    let Some((a, b)) = replicas("limits::permits_are_shared_by_replicas", Leases::default()).await
    else {
        return;
    };
    let calls = (0..20).map(|i| {
        let limiter = if i % 2 == 0 { a.clone() } else { b.clone() };
        async move { limiter.enter("key:team-a", 5).await }
    });
    let (held, refused): (Vec<_>, Vec<_>) =
        join_all(calls).await.into_iter().partition(Result::is_ok);
    assert_eq!(held.len(), 5);
    let d = denial(refused.into_iter().next().unwrap());
    assert_eq!(d.limit, LimitKind::Concurrent);
    assert_eq!(
        d.message,
        "concurrency limit of 5 requests in flight reached for key team-a"
    );
    drop(held);
    eventually("the release of five permits", || {
        let (a, b) = (a.clone(), b.clone());
        async move {
            let again = join_all((0..5).map(|i| {
                let limiter = if i % 2 == 0 { a.clone() } else { b.clone() };
                async move { limiter.enter("key:team-a", 5).await }
            }))
            .await;
            again.iter().all(Result::is_ok)
        }
    })
    .await;
}

#[tokio::test]
async fn a_crashed_replicas_permit_expires() {
    // Never renewed: stands in for a replica that died holding the permit.
    let leases = Leases {
        permit: Duration::from_secs(1),
        renew_every: Duration::from_secs(3600),
        ..Leases::default()
    };
    let Some((a, b)) = replicas("limits::a_crashed_replicas_permit_expires", leases).await else {
        return;
    };
    std::mem::forget(a.enter("team:ops", 1).await.unwrap());
    assert!(b.enter("team:ops", 1).await.is_err());
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let _permit = b.enter("team:ops", 1).await.unwrap();
}

#[tokio::test]
async fn a_held_permit_is_renewed() {
    let leases = Leases {
        permit: Duration::from_secs(1),
        renew_every: Duration::from_millis(200),
        ..Leases::default()
    };
    let Some((a, b)) = replicas("limits::a_held_permit_is_renewed", leases).await else {
        return;
    };
    let permit = a.enter("team:ops", 1).await.unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(b.enter("team:ops", 1).await.is_err());
    drop(permit);
    eventually("the release of the permit", || {
        let b = b.clone();
        async move { b.enter("team:ops", 1).await.is_ok() }
    })
    .await;
}
