//! Limits across replicas: two `Limiter::redis` instances with their own connections stand in
//! for two processes (run when `STRATA_TEST_REDIS_URL` is set), and the same scenarios run on
//! the local limiter so both backends are seen to behave alike.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod budgets;
mod concurrency;
mod rates;

use std::time::Duration;

use strata_policy::limits::{Denied, Leases, LimitError, Limiter};
use strata_testkit::{Service, service_url};

/// Two limiters on separate connections sharing one fresh prefix, or `None` (skip reported).
pub async fn replicas(test: &str, leases: Leases) -> Option<(Limiter, Limiter)> {
    let prefix = format!("strata-test:{}:", uuid::Uuid::new_v4().simple());
    replicas_at(test, leases, &prefix).await
}

/// [`replicas`] under a given key prefix.
pub async fn replicas_at(test: &str, leases: Leases, prefix: &str) -> Option<(Limiter, Limiter)> {
    let Some(url) = service_url(Service::Redis) else {
        strata_testkit::skip(test, "STRATA_TEST_REDIS_URL is not set");
        return None;
    };
    let mut replicas = Vec::new();
    for _ in 0..2 {
        let client = redis::Client::open(url.as_str()).unwrap();
        let conn = redis::aio::ConnectionManager::new(client).await.unwrap();
        replicas.push(Limiter::redis_with_leases(conn, prefix, leases));
    }
    let b = replicas.pop()?;
    let a = replicas.pop()?;
    assert!(a.is_shared() && b.is_shared());
    Some((a, b))
}

/// The refusal in a result, panicking on anything else.
pub fn denial<T: std::fmt::Debug>(result: Result<T, LimitError>) -> Denied {
    match result {
        Err(LimitError::Denied(d)) => d,
        other => panic!("expected a denial, got {other:?}"),
    }
}

/// Polls `check` until it holds, for up to two seconds.
pub async fn eventually<F: Future<Output = bool>>(what: &str, mut check: impl FnMut() -> F) {
    for _ in 0..40 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what} did not happen within 2 s");
}
