//! The per-process backend: sharded maps under short mutexes (one lock per call, no await
//! while held), so the hot path costs a hash, an uncontended lock and a few float operations.
//! Entries that have gone idle are pruned when a shard grows, so nothing grows forever.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::LimitKind;
use super::gcra::{Meter, Verdict};

const SHARDS: usize = 32;
/// A shard is pruned of idle entries when it reaches this size (then twice its live size).
const PRUNE_AT: usize = 1024;

/// Microseconds on a monotonic clock.
#[derive(Debug, Clone)]
pub(super) enum Clock {
    System(Instant),
    #[cfg(test)]
    Manual(Arc<AtomicU64>),
}

impl Clock {
    fn now_us(&self) -> u64 {
        match self {
            Clock::System(origin) => micros(origin.elapsed()),
            #[cfg(test)]
            Clock::Manual(now) => now.load(Ordering::Relaxed),
        }
    }
}

pub(super) fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

#[derive(Debug)]
pub(super) struct Local {
    clock: Clock,
    requests: Sharded<Rate>,
    tokens: Sharded<Rate>,
    gates: Sharded<Arc<AtomicU64>>,
    budgets: Sharded<Budget>,
}

/// A meter and when it will be empty.
#[derive(Debug, Default)]
struct Rate {
    meter: Meter,
    empty_at_us: u64,
}

/// One budget period: `spent` is `None` until seeded or charged.
#[derive(Debug)]
struct Budget {
    spent: Option<i64>,
    reserved: i64,
    expires_at_us: u64,
}

impl Budget {
    /// A period past its TTL starts over (reservations in flight still release what they hold).
    fn refresh(&mut self, now_us: u64) {
        if now_us >= self.expires_at_us {
            self.spent = None;
            self.expires_at_us = now_us.saturating_add(micros(super::FALLBACK_BUDGET_TTL));
        }
    }
}

impl Local {
    pub(super) fn new(clock: Clock) -> Self {
        Local {
            clock,
            requests: Sharded::new(),
            tokens: Sharded::new(),
            gates: Sharded::new(),
            budgets: Sharded::new(),
        }
    }

    fn rates(&self, kind: LimitKind) -> &Sharded<Rate> {
        if kind == LimitKind::Tokens {
            &self.tokens
        } else {
            &self.requests
        }
    }

    pub(super) fn admit(
        &self,
        kind: LimitKind,
        scope: &str,
        per_minute: u64,
        cost: u64,
    ) -> Verdict {
        let now = self.clock.now_us();
        self.rates(kind).with(scope, now, Rate::default, |rate| {
            let verdict = rate.meter.admit(now, per_minute, cost);
            rate.empty_at_us = rate.meter.empty_at_us(per_minute);
            verdict
        })
    }

    pub(super) fn adjust(&self, kind: LimitKind, scope: &str, per_minute: u64, delta: i64) {
        let now = self.clock.now_us();
        self.rates(kind).with(scope, now, Rate::default, |rate| {
            rate.meter.adjust(now, per_minute, delta);
            rate.empty_at_us = rate.meter.empty_at_us(per_minute);
        });
    }

    /// A slot of `scope`'s gate, if one of `max` is free; the caller gives it back by
    /// decrementing the counter.
    pub(super) fn enter(&self, scope: &str, max: u64) -> Option<Arc<AtomicU64>> {
        let now = self.clock.now_us();
        let gate = self
            .gates
            .with(scope, now, Arc::default, |gate| Arc::clone(gate));
        gate.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
            (n < max).then_some(n + 1)
        })
        .ok()
        .map(|_| gate)
    }

    fn budget<R>(&self, key: &str, f: impl FnOnce(&mut Budget, u64) -> R) -> R {
        let now = self.clock.now_us();
        let fresh = || Budget {
            spent: None,
            reserved: 0,
            expires_at_us: now.saturating_add(micros(super::FALLBACK_BUDGET_TTL)),
        };
        self.budgets.with(key, now, fresh, |budget| {
            budget.refresh(now);
            f(budget, now)
        })
    }

    pub(super) fn seed_budget(&self, key: &str, spent: i64, ttl: Duration) -> bool {
        self.budget(key, |budget, now| {
            if budget.spent.is_some() {
                return false;
            }
            budget.spent = Some(spent);
            budget.expires_at_us = now.saturating_add(micros(ttl));
            true
        })
    }

    /// Returns whether it was admitted, with spent and reserved (including this one if admitted).
    pub(super) fn reserve_budget(&self, key: &str, limit: i64, estimate: i64) -> (bool, i64, i64) {
        self.budget(key, |budget, _| {
            let spent = budget.spent.unwrap_or(0);
            let used = spent.saturating_add(budget.reserved);
            if used >= limit || used.saturating_add(estimate) > limit {
                return (false, spent, budget.reserved);
            }
            budget.reserved += estimate;
            (true, spent, budget.reserved)
        })
    }

    /// Releases a reservation and charges `actual` (0 releases only).
    pub(super) fn settle_budget(&self, key: &str, estimate: i64, actual: Option<i64>) {
        self.budget(key, |budget, _| {
            budget.reserved = (budget.reserved - estimate).max(0);
            if let Some(actual) = actual {
                budget.spent = Some(budget.spent.unwrap_or(0).saturating_add(actual));
            }
        });
    }

    pub(super) fn budget_state(&self, key: &str) -> (i64, i64) {
        let now = self.clock.now_us();
        self.budgets.peek(key, |budget| match budget {
            Some(b) if now < b.expires_at_us => (b.spent.unwrap_or(0), b.reserved),
            Some(b) => (0, b.reserved),
            None => (0, 0),
        })
    }
}

/// Whether an entry can be forgotten at `now_us` without changing any outcome.
trait Idle {
    fn idle(&self, now_us: u64) -> bool;
}

impl Idle for Rate {
    fn idle(&self, now_us: u64) -> bool {
        now_us >= self.empty_at_us
    }
}

impl Idle for Arc<AtomicU64> {
    fn idle(&self, _: u64) -> bool {
        Arc::strong_count(self) == 1 && self.load(Ordering::Acquire) == 0
    }
}

impl Idle for Budget {
    fn idle(&self, now_us: u64) -> bool {
        now_us >= self.expires_at_us && self.reserved == 0
    }
}

/// A map split into shards by key hash, each under its own mutex.
#[derive(Debug)]
struct Sharded<V> {
    hasher: RandomState,
    shards: Box<[Mutex<Shard<V>>]>,
}

#[derive(Debug)]
struct Shard<V> {
    map: HashMap<Box<str>, V>,
    prune_at: usize,
}

impl<V: Idle> Sharded<V> {
    fn new() -> Self {
        let shards = (0..SHARDS)
            .map(|_| {
                Mutex::new(Shard {
                    map: HashMap::new(),
                    prune_at: PRUNE_AT,
                })
            })
            .collect();
        Sharded {
            hasher: RandomState::new(),
            shards,
        }
    }

    fn shard(&self, key: &str) -> std::sync::MutexGuard<'_, Shard<V>> {
        let index = self.hasher.hash_one(key) as usize % SHARDS;
        self.shards[index]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` on `key`'s entry, inserting `make()` first if there is none.
    fn with<R>(
        &self,
        key: &str,
        now_us: u64,
        make: impl FnOnce() -> V,
        f: impl FnOnce(&mut V) -> R,
    ) -> R {
        let mut shard = self.shard(key);
        if let Some(value) = shard.map.get_mut(key) {
            return f(value);
        }
        if shard.map.len() >= shard.prune_at {
            shard.map.retain(|_, v| !v.idle(now_us));
            shard.prune_at = (shard.map.len() * 2).max(PRUNE_AT);
        }
        f(shard.map.entry(key.into()).or_insert_with(make))
    }

    fn peek<R>(&self, key: &str, f: impl FnOnce(Option<&V>) -> R) -> R {
        f(self.shard(key).map.get(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: u64 = 1_000_000;

    fn local() -> (Local, Arc<AtomicU64>) {
        let now = Arc::new(AtomicU64::new(0));
        (Local::new(Clock::Manual(Arc::clone(&now))), now)
    }

    #[test]
    fn scopes_and_kinds_are_separate() {
        let (l, _) = local();
        assert_eq!(l.admit(LimitKind::Requests, "a", 1, 1), Verdict::Admit);
        assert_eq!(l.admit(LimitKind::Requests, "b", 1, 1), Verdict::Admit);
        assert_eq!(l.admit(LimitKind::Tokens, "a", 1, 1), Verdict::Admit);
        assert!(matches!(
            l.admit(LimitKind::Requests, "a", 1, 1),
            Verdict::Wait(_)
        ));
    }

    #[test]
    fn idle_meters_are_pruned() {
        let (l, now) = local();
        let n = PRUNE_AT * SHARDS;
        let len = |l: &Local| -> usize {
            l.requests
                .shards
                .iter()
                .map(|s| s.lock().unwrap().map.len())
                .sum()
        };
        for i in 0..n {
            l.admit(LimitKind::Requests, &format!("s{i}"), 60, 1);
        }
        // Active meters are kept.
        assert_eq!(len(&l), n);
        now.store(2 * SEC, Ordering::Relaxed);
        for i in 0..3 * n {
            l.admit(LimitKind::Requests, &format!("t{i}"), 60, 1);
        }
        // The first ones drained empty and went when their shards grew.
        assert!(len(&l) < 3 * n + n / 4, "{}", len(&l));
    }

    #[test]
    fn gates_count_and_release() {
        let (l, _) = local();
        let a = l.enter("s", 2).unwrap();
        let b = l.enter("s", 2).unwrap();
        assert!(l.enter("s", 2).is_none());
        assert!(l.enter("s", 0).is_none());
        assert!(l.enter("other", 1).is_some());
        a.fetch_sub(1, Ordering::AcqRel);
        assert!(l.enter("s", 2).is_some());
        drop(b);
    }

    #[test]
    fn budgets_reserve_settle_and_seed() {
        let (l, now) = local();
        assert!(l.seed_budget("k", 40, Duration::from_secs(10)));
        assert!(!l.seed_budget("k", 999, Duration::from_secs(10)));
        assert_eq!(l.reserve_budget("k", 100, 50), (true, 40, 50));
        assert_eq!(l.reserve_budget("k", 100, 11), (false, 40, 50));
        assert_eq!(l.reserve_budget("k", 100, 10), (true, 40, 60));
        assert_eq!(l.budget_state("k"), (40, 60));
        l.settle_budget("k", 50, Some(70));
        l.settle_budget("k", 10, None);
        assert_eq!(l.budget_state("k"), (110, 0));
        // Overspent: even a zero estimate is refused.
        assert_eq!(l.reserve_budget("k", 100, 0), (false, 110, 0));
        // After the TTL the period starts over and can be seeded again.
        now.store(11 * SEC, Ordering::Relaxed);
        assert_eq!(l.budget_state("k"), (0, 0));
        assert!(l.seed_budget("k", 5, Duration::from_secs(10)));
        assert_eq!(l.reserve_budget("k", 100, 95), (true, 5, 95));
    }

    #[test]
    fn a_settle_before_the_seed_wins() {
        let (l, _) = local();
        assert_eq!(l.reserve_budget("k", 100, 10), (true, 0, 10));
        // Seeding while only a reservation exists still sets spent.
        assert!(l.seed_budget("k", 20, Duration::from_secs(10)));
        l.settle_budget("k", 10, Some(5));
        assert!(!l.seed_budget("k", 20, Duration::from_secs(10)));
        assert_eq!(l.budget_state("k"), (25, 0));
    }
}
