//! Rate limits (requests and tokens per minute), concurrency limits and budgets, per process
//! ([`Limiter::local`]) or shared by every replica through Redis ([`Limiter::redis`]), so that
//! limits hold across replicas instead of multiplying by their count.
//!
//! - Rates use GCRA with the whole minute as burst (`gcra.rs`); the Redis script is the same
//!   arithmetic. Tokens are reserved from an estimate and settled with the real count.
//! - Concurrency is a counter locally, leases in a sorted set on Redis (renewed while held, so
//!   a crashed replica's permits expire).
//! - Budgets (micro-USD per period key) admit a call only if spent + outstanding reservations +
//!   its estimate fit the limit, atomically; so concurrent calls overspend by at most one call's
//!   `actual - estimate`. Seed each period from the durable ledger before reserving against it.
//!
//! Reservations must be settled with what the call actually used whenever the call happened
//! (even partly, e.g. a stream cut short). Dropping one unsettled releases its hold as if the
//! call never happened. On Redis an unsettled budget reservation of a crashed replica expires
//! after [`Leases::reservation`]; a token reservation needs no expiry (the meter drains).
//!
//! A backend error is [`LimitError::Redis`]: the caller decides to fail open or closed.
//! Settling never fails: errors there are logged (the call is over). A reservation settles
//! through the limiter that made it; await the settle to the end (a settle future dropped
//! half-way loses the charge, and a budget hold then lasts until its lease expires).

mod gcra;
mod held;
mod local;
mod lua;
mod scripts;
mod shared;

use std::sync::Arc;
#[cfg(test)]
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use gcra::Verdict;
use held::PermitInner;
pub use held::{BudgetReservation, Permit, TokenReservation};

/// TTL given to a budget counter that was charged or reserved against without being seeded.
pub const FALLBACK_BUDGET_TTL: Duration = Duration::from_secs(40 * 24 * 3600);

/// Which limit refused a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LimitKind {
    Requests,
    Tokens,
    Concurrent,
    Budget,
}

impl LimitKind {
    /// A stable lowercase name (metrics labels, Redis keys).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            LimitKind::Requests => "requests",
            LimitKind::Tokens => "tokens",
            LimitKind::Concurrent => "concurrent",
            LimitKind::Budget => "budget",
        }
    }
}

/// A refused call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    pub limit: LimitKind,
    /// The scope (or budget period key) whose limit was reached.
    pub scope: String,
    /// When the same call would pass; `None` for budgets and for calls that never can.
    /// For concurrency it is a hint (one second): nobody knows when a slot frees.
    pub retry_after: Option<Duration>,
    /// Human text for the 429/402 body.
    pub message: String,
}

impl std::fmt::Display for Denied {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// The limits module's error.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LimitError {
    #[error("{0}")]
    Denied(Denied),
    /// The shared backend is unavailable.
    #[error("limits backend unavailable: {0}")]
    Redis(String),
}

/// Lease lengths of the Redis backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Leases {
    /// How long a concurrency permit survives without renewal (a crashed replica's permits
    /// free up after this long).
    pub permit: Duration,
    /// How often a held permit is renewed (well under `permit`).
    pub renew_every: Duration,
    /// How long an unsettled budget reservation holds its estimate (calls running longer lose
    /// the hold but are still charged when settled).
    pub reservation: Duration,
}

impl Default for Leases {
    fn default() -> Self {
        Leases {
            permit: Duration::from_secs(90),
            renew_every: Duration::from_secs(30),
            reservation: Duration::from_secs(15 * 60),
        }
    }
}

/// Rate, concurrency and budget limits. Cheap to clone (one `Arc`).
#[derive(Clone)]
pub struct Limiter {
    backend: Backend,
}

#[derive(Clone)]
enum Backend {
    Local(Arc<local::Local>),
    Redis(Arc<shared::Shared>),
}

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.backend {
            Backend::Local(_) => f.write_str("Limiter(local)"),
            Backend::Redis(shared) => write!(f, "Limiter({shared:?})"),
        }
    }
}

impl Limiter {
    /// Limits counted in this process only.
    #[must_use]
    pub fn local() -> Self {
        Self::with_local(local::Local::new(local::Clock::System(
            std::time::Instant::now(),
        )))
    }

    fn with_local(local: local::Local) -> Self {
        Limiter {
            backend: Backend::Local(Arc::new(local)),
        }
    }

    /// Limits shared by every replica using the same Redis and `prefix` (e.g. `"strata:"`).
    #[must_use]
    pub fn redis(conn: redis::aio::ConnectionManager, prefix: &str) -> Self {
        Self::redis_with_leases(conn, prefix, Leases::default())
    }

    /// [`Limiter::redis`] with other lease lengths.
    #[must_use]
    pub fn redis_with_leases(
        conn: redis::aio::ConnectionManager,
        prefix: &str,
        leases: Leases,
    ) -> Self {
        Limiter {
            backend: Backend::Redis(Arc::new(shared::Shared::new(conn, prefix, leases))),
        }
    }

    /// Whether the limits are shared with other replicas.
    #[must_use]
    pub fn is_shared(&self) -> bool {
        matches!(self.backend, Backend::Redis(_))
    }

    async fn meter(
        &self,
        kind: LimitKind,
        scope: &str,
        per_minute: u64,
        cost: u64,
    ) -> Result<(), LimitError> {
        let verdict = if !gcra::possible(per_minute, cost) {
            Verdict::Never
        } else {
            match &self.backend {
                Backend::Local(l) => l.admit(kind, scope, per_minute, cost),
                Backend::Redis(r) => {
                    let cost = i64::try_from(cost).unwrap_or(i64::MAX);
                    r.meter(kind, scope, per_minute, cost, true).await?
                }
            }
        };
        if verdict == Verdict::Admit {
            return Ok(());
        }
        let who = describe(scope);
        let (retry_after, message) = match (verdict, kind) {
            (Verdict::Admit, _) => return Ok(()),
            (Verdict::Wait(wait), LimitKind::Tokens) => (
                Some(wait),
                format!("token rate limit of {per_minute} tokens/min reached for {who}"),
            ),
            (Verdict::Wait(wait), _) => (
                Some(wait),
                format!("rate limit of {per_minute} requests/min reached for {who}"),
            ),
            (Verdict::Never, LimitKind::Tokens) => (
                None,
                format!(
                    "the request needs about {cost} tokens, more than the limit of \
                     {per_minute} tokens/min for {who}"
                ),
            ),
            (Verdict::Never, _) => (
                None,
                format!("rate limit of {per_minute} requests/min allows no requests for {who}"),
            ),
        };
        Err(denied(kind, scope, retry_after, message))
    }

    /// Admits one request against `per_minute` for `scope` (e.g. `"key:team-a"`): GCRA with the
    /// whole minute's allowance as burst.
    ///
    /// # Errors
    /// `Denied` (with `retry_after`) when the limit is reached; `Redis` when the backend fails.
    pub async fn request(&self, scope: &str, per_minute: u64) -> Result<(), LimitError> {
        self.meter(LimitKind::Requests, scope, per_minute, 1).await
    }

    /// Reserves `estimate` tokens of `scope`'s `per_minute`; settle it with
    /// [`Limiter::settle_tokens`] after the call.
    ///
    /// # Errors
    /// `Denied` when the tokens do not fit now (`retry_after`) or ever (`estimate > per_minute`,
    /// `retry_after: None`); `Redis` when the backend fails.
    pub async fn reserve_tokens(
        &self,
        scope: &str,
        per_minute: u64,
        estimate: u64,
    ) -> Result<TokenReservation, LimitError> {
        self.meter(LimitKind::Tokens, scope, per_minute, estimate)
            .await?;
        Ok(TokenReservation {
            limiter: self.clone(),
            scope: scope.to_owned(),
            per_minute,
            estimate,
            armed: true,
        })
    }

    /// Settles a token reservation with the tokens actually used: refunds the difference, or
    /// charges it even beyond the limit (a debt that delays later requests).
    pub async fn settle_tokens(&self, mut reservation: TokenReservation, actual: u64) {
        reservation.armed = false;
        let delta = i128::from(actual) - i128::from(reservation.estimate);
        let delta = i64::try_from(delta).unwrap_or(if delta < 0 { i64::MIN } else { i64::MAX });
        if delta != 0 {
            reservation.adjust(delta).await;
        }
    }

    /// Takes one of `max` concurrent slots of `scope`; it is released when the permit drops.
    ///
    /// # Errors
    /// `Denied` when all slots are taken; `Redis` when the backend fails.
    pub async fn enter(&self, scope: &str, max: u64) -> Result<Permit, LimitError> {
        let inner = match &self.backend {
            Backend::Local(l) => l.enter(scope, max).map(PermitInner::Local),
            Backend::Redis(r) => {
                (r.enter(scope, max).await?).map(|release| PermitInner::Redis { _release: release })
            }
        };
        inner.map(|inner| Permit { inner }).ok_or_else(|| {
            denied(
                LimitKind::Concurrent,
                scope,
                (max > 0).then_some(Duration::from_secs(1)),
                format!(
                    "concurrency limit of {max} requests in flight reached for {}",
                    describe(scope)
                ),
            )
        })
    }

    /// Sets the spent amount of a budget period (e.g. `"key:team-a:2026-11"`) from the durable
    /// ledger if this limiter has none yet; returns whether it did. The counter lives for `ttl`.
    ///
    /// # Errors
    /// `Redis` when the backend fails.
    pub async fn seed_budget(
        &self,
        period_key: &str,
        spent_micros: i64,
        ttl: Duration,
    ) -> Result<bool, LimitError> {
        match &self.backend {
            Backend::Local(l) => Ok(l.seed_budget(period_key, spent_micros, ttl)),
            Backend::Redis(r) => r.seed_budget(period_key, spent_micros, ttl).await,
        }
    }

    /// Reserves `estimate_micros` (negative counts as 0) of the budget: admitted only if
    /// spent + outstanding reservations + estimate <= `limit_micros` (and the budget is not
    /// already used up), atomically.
    ///
    /// # Errors
    /// `Denied` (no `retry_after`) when it does not fit; `Redis` when the backend fails.
    pub async fn reserve_budget(
        &self,
        period_key: &str,
        limit_micros: i64,
        estimate_micros: i64,
    ) -> Result<BudgetReservation, LimitError> {
        let estimate = estimate_micros.max(0);
        let (id, (admitted, spent, reserved)) = match &self.backend {
            Backend::Local(l) => (
                String::new(),
                l.reserve_budget(period_key, limit_micros, estimate),
            ),
            Backend::Redis(r) => {
                let id = uuid::Uuid::new_v4().simple().to_string();
                let outcome = r
                    .reserve_budget(period_key, limit_micros, estimate, &id)
                    .await?;
                (id, outcome)
            }
        };
        if !admitted {
            let message = format!(
                "budget of {} reached for {} (spent {}, {} reserved by calls in progress)",
                usd(limit_micros),
                describe(period_key),
                usd(spent),
                usd(reserved)
            );
            return Err(denied(LimitKind::Budget, period_key, None, message));
        }
        Ok(BudgetReservation {
            limiter: self.clone(),
            period_key: period_key.to_owned(),
            id,
            estimate,
            armed: true,
        })
    }

    /// Replaces a budget reservation by the call's actual cost (larger or smaller).
    pub async fn settle_budget(&self, mut reservation: BudgetReservation, actual_micros: i64) {
        reservation.armed = false;
        reservation.finish(Some(actual_micros)).await;
    }

    /// Spent and currently reserved micro-USD of a budget period (0, 0 when unknown).
    ///
    /// # Errors
    /// `Redis` when the backend fails.
    pub async fn budget_state(&self, period_key: &str) -> Result<(i64, i64), LimitError> {
        match &self.backend {
            Backend::Local(l) => Ok(l.budget_state(period_key)),
            Backend::Redis(r) => r.budget_state(period_key).await,
        }
    }

    #[cfg(test)]
    fn manual() -> (Self, Arc<AtomicU64>) {
        let now = Arc::new(AtomicU64::new(0));
        let clock = local::Clock::Manual(Arc::clone(&now));
        (Self::with_local(local::Local::new(clock)), now)
    }
}

fn denied(
    limit: LimitKind,
    scope: &str,
    retry_after: Option<Duration>,
    message: String,
) -> LimitError {
    LimitError::Denied(Denied {
        limit,
        scope: scope.to_owned(),
        retry_after,
        message,
    })
}

/// `"key:team-a"` reads as `"key team-a"` in messages.
fn describe(scope: &str) -> String {
    scope.replacen(':', " ", 1)
}

/// Micro-USD as dollars with at least two decimals: 1_500_000 → `$1.50`, 1_234 → `$0.001234`.
fn usd(micros: i64) -> String {
    let sign = if micros < 0 { "-" } else { "" };
    let abs = micros.unsigned_abs();
    let mut decimals = format!("{:06}", abs % 1_000_000)
        .trim_end_matches('0')
        .to_owned();
    while decimals.len() < 2 {
        decimals.push('0');
    }
    format!("{sign}${}.{decimals}", abs / 1_000_000)
}

#[cfg(test)]
mod tests;
