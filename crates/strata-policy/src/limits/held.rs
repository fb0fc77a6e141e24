//! What a call holds while it runs: token and budget reservations (settled after the call,
//! released when dropped unsettled) and concurrency permits (released when dropped).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::oneshot;

use super::{Backend, LimitKind, Limiter};

/// Tokens reserved by [`Limiter::reserve_tokens`]. Settle it after the call; dropping it
/// unsettled refunds the estimate (the call did not happen).
#[derive(Debug)]
#[must_use = "settle it with Limiter::settle_tokens after the call; dropping it refunds the estimate"]
pub struct TokenReservation {
    pub(super) limiter: Limiter,
    pub(super) scope: String,
    pub(super) per_minute: u64,
    pub(super) estimate: u64,
    pub(super) armed: bool,
}

impl TokenReservation {
    /// The tokens reserved.
    #[must_use]
    pub fn estimate(&self) -> u64 {
        self.estimate
    }

    pub(super) async fn adjust(&self, delta: i64) {
        let (scope, per_minute) = (self.scope.as_str(), self.per_minute);
        match &self.limiter.backend {
            Backend::Local(l) => l.adjust(LimitKind::Tokens, scope, per_minute, delta),
            Backend::Redis(r) => {
                if let Err(e) = r
                    .meter(LimitKind::Tokens, scope, per_minute, delta, false)
                    .await
                {
                    tracing::warn!(scope, delta, error = %e, "could not settle a token reservation");
                }
            }
        }
    }
}

impl Drop for TokenReservation {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        self.armed = false;
        let delta = -i64::try_from(self.estimate).unwrap_or(i64::MAX);
        match &self.limiter.backend {
            Backend::Local(l) => l.adjust(LimitKind::Tokens, &self.scope, self.per_minute, delta),
            Backend::Redis(_) => {
                let release = TokenReservation {
                    limiter: self.limiter.clone(),
                    scope: std::mem::take(&mut self.scope),
                    armed: false,
                    ..*self
                };
                spawn_detached(async move { release.adjust(delta).await });
            }
        }
    }
}

/// Budget reserved by [`Limiter::reserve_budget`]. Settle it after the call; dropping it
/// unsettled releases the hold (the call did not happen).
#[derive(Debug)]
#[must_use = "settle it with Limiter::settle_budget after the call; dropping it releases the hold"]
pub struct BudgetReservation {
    pub(super) limiter: Limiter,
    pub(super) period_key: String,
    /// The reservation's id in Redis (empty locally).
    pub(super) id: String,
    pub(super) estimate: i64,
    pub(super) armed: bool,
}

impl BudgetReservation {
    /// The micro-USD reserved.
    #[must_use]
    pub fn estimate_micros(&self) -> i64 {
        self.estimate
    }

    /// The budget period it was reserved against.
    #[must_use]
    pub fn period_key(&self) -> &str {
        &self.period_key
    }

    /// Removes the hold and charges `actual` (or nothing).
    pub(super) async fn finish(&self, actual: Option<i64>) {
        match &self.limiter.backend {
            Backend::Local(l) => l.settle_budget(&self.period_key, self.estimate, actual),
            Backend::Redis(r) => {
                if let Err(e) = r.settle_budget(&self.period_key, &self.id, actual).await {
                    let key = &self.period_key;
                    tracing::warn!(key, ?actual, error = %e, "could not settle a budget reservation");
                }
            }
        }
    }
}

impl Drop for BudgetReservation {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        self.armed = false;
        match &self.limiter.backend {
            Backend::Local(l) => l.settle_budget(&self.period_key, self.estimate, None),
            Backend::Redis(_) => {
                let release = BudgetReservation {
                    limiter: self.limiter.clone(),
                    period_key: std::mem::take(&mut self.period_key),
                    id: std::mem::take(&mut self.id),
                    estimate: self.estimate,
                    armed: false,
                };
                spawn_detached(async move { release.finish(None).await });
            }
        }
    }
}

/// Runs a release after a drop; without a runtime the Redis entry expires on its own.
fn spawn_detached(task: impl Future<Output = ()> + Send + 'static) {
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => drop(runtime.spawn(task)),
        Err(_) => tracing::debug!("no runtime to release a reservation; it will expire"),
    }
}

/// A concurrency slot from [`Limiter::enter`], released when dropped.
#[derive(Debug)]
#[must_use = "the slot is released as soon as the permit is dropped"]
pub struct Permit {
    pub(super) inner: PermitInner,
}

#[derive(Debug)]
pub(super) enum PermitInner {
    Local(Arc<AtomicU64>),
    /// Dropping the sender tells the lease's task to remove it.
    Redis {
        _release: oneshot::Sender<()>,
    },
}

impl Drop for Permit {
    fn drop(&mut self) {
        if let PermitInner::Local(count) = &self.inner {
            count.fetch_sub(1, Ordering::AcqRel);
        }
    }
}
