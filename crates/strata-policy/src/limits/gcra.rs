//! GCRA (generic cell rate algorithm) in its meter form, shared by the request and token
//! limits of both backends. `scripts::METER` is the same computation in Lua, operation for
//! operation on IEEE doubles, so a limit behaves alike in one process and across replicas.
//!
//! Classic GCRA keeps a theoretical arrival time `TAT`; this form keeps `level`, the part of the
//! allowance in use (`level = (TAT - now) / T` for the emission interval `T = 60 s / limit`),
//! measured in the limit's units (requests or tokens) and draining at `limit` per minute.
//! A call of cost `n` is admitted when `level + n <= limit`: the burst is the whole minute's
//! allowance, and after it calls pass at the steady rate. A refused call waits until enough has
//! drained: `(level + n - limit)` units, at `limit / 60 s`.
//!
//! Token limits reserve an estimate first and settle the real count after the call, so the
//! meter needs `adjust` (refund or charge; a charge may push `level` above `limit`, a debt that
//! delays later calls). `governor` has no refunds, and one limiter per quota; this is a few
//! lines, so requests use it too and both limits share one behavior and one Lua script.

use std::time::Duration;

/// The window a `per_minute` limit is measured over, in microseconds.
pub(crate) const PERIOD_US: f64 = 60_000_000.0;

/// Slack for floating-point rounding when comparing a level with its limit, relative to the
/// limit: far below one microsecond of drain at any rate, far above double rounding error.
const EPSILON: f64 = 1e-9;

/// What a meter says to a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Admit,
    /// Refused; the call would be admitted after this long.
    Wait(Duration),
    /// Refused for good: the cost exceeds the whole allowance.
    Never,
}

/// Whether a call of `cost` can ever pass a `per_minute` limit.
pub(crate) fn possible(per_minute: u64, cost: u64) -> bool {
    per_minute > 0 && cost <= per_minute
}

/// One scope's meter.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Meter {
    /// Allowance in use at `at_us`, in units; above the limit when in debt.
    level: f64,
    /// When `level` was computed, in microseconds on the backend's clock.
    at_us: u64,
}

impl Meter {
    /// The level at `now_us`, after draining since the last update.
    pub(crate) fn level(&self, now_us: u64, per_minute: u64) -> f64 {
        let elapsed = now_us.saturating_sub(self.at_us) as f64;
        (self.level - elapsed * per_minute as f64 / PERIOD_US).max(0.0)
    }

    /// Admits a call of `cost` units if the allowance has room for it.
    pub(crate) fn admit(&mut self, now_us: u64, per_minute: u64, cost: u64) -> Verdict {
        if !possible(per_minute, cost) {
            return Verdict::Never;
        }
        let limit = per_minute as f64;
        let next = self.level(now_us, per_minute) + cost as f64;
        if next > limit + limit * EPSILON {
            let wait_us = ((next - limit) * PERIOD_US / limit).ceil();
            return Verdict::Wait(Duration::from_micros(wait_us as u64));
        }
        *self = Meter {
            level: next,
            at_us: now_us.max(self.at_us),
        };
        Verdict::Admit
    }

    /// Charges (`delta > 0`, unconditionally, possibly into debt) or refunds (`delta < 0`,
    /// never below empty) units.
    pub(crate) fn adjust(&mut self, now_us: u64, per_minute: u64, delta: i64) {
        let level = self.level(now_us, per_minute.max(1)) + delta as f64;
        *self = Meter {
            level: level.max(0.0),
            at_us: now_us.max(self.at_us),
        };
    }

    /// When the meter will have drained empty (it can be forgotten then).
    pub(crate) fn empty_at_us(&self, per_minute: u64) -> u64 {
        let drain_us = self.level * PERIOD_US / per_minute.max(1) as f64;
        self.at_us.saturating_add(drain_us.ceil() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SEC: u64 = 1_000_000;

    fn admitted(meter: &mut Meter, now: u64, per_minute: u64, cost: u64, calls: u32) -> u32 {
        (0..calls)
            .filter(|_| meter.admit(now, per_minute, cost) == Verdict::Admit)
            .count() as u32
    }

    #[test]
    fn burst_is_the_whole_minute() {
        let mut m = Meter::default();
        assert_eq!(admitted(&mut m, 10 * SEC, 60, 1, 100), 60);
        // The next call fits after one emission interval (1 s at 60/min).
        assert_eq!(
            m.admit(10 * SEC, 60, 1),
            Verdict::Wait(Duration::from_secs(1))
        );
        let mut odd = Meter::default();
        assert_eq!(admitted(&mut odd, 0, 7, 1, 20), 7);
    }

    #[test]
    fn steady_rate_after_the_burst() {
        let mut m = Meter::default();
        assert_eq!(admitted(&mut m, 0, 60, 1, 60), 60);
        for s in 1..=30 {
            // One call a second passes, a second one in the same instant does not.
            assert_eq!(m.admit(s * SEC, 60, 1), Verdict::Admit, "second {s}");
            assert!(matches!(m.admit(s * SEC, 60, 1), Verdict::Wait(_)));
        }
        // Half a second in, half an interval is still to wait.
        assert_eq!(
            m.admit(30 * SEC + SEC / 2, 60, 1),
            Verdict::Wait(Duration::from_millis(500))
        );
    }

    #[test]
    fn retry_after_counts_the_missing_units() {
        let mut m = Meter::default();
        assert_eq!(m.admit(0, 1000, 900), Verdict::Admit);
        // 300 more need 200 drained: 200 tokens at 1000/min = 12 s.
        assert_eq!(
            m.admit(0, 1000, 300),
            Verdict::Wait(Duration::from_secs(12))
        );
        assert_eq!(m.admit(12 * SEC, 1000, 300), Verdict::Admit);
    }

    #[test]
    fn a_cost_above_the_limit_never_passes() {
        let mut m = Meter::default();
        assert_eq!(m.admit(0, 100, 101), Verdict::Never);
        assert_eq!(m.admit(0, 0, 0), Verdict::Never);
        assert_eq!(m.admit(0, 100, 100), Verdict::Admit);
    }

    #[test]
    fn refunds_free_the_allowance() {
        let mut m = Meter::default();
        assert_eq!(m.admit(0, 1000, 800), Verdict::Admit);
        assert!(matches!(m.admit(0, 1000, 800), Verdict::Wait(_)));
        m.adjust(0, 1000, -700);
        assert_eq!(m.admit(0, 1000, 800), Verdict::Admit);
        // A refund never goes below empty.
        m.adjust(0, 1000, -10_000);
        assert_eq!(m.level(0, 1000), 0.0);
    }

    #[test]
    fn charges_beyond_the_limit_become_debt() {
        let mut m = Meter::default();
        assert_eq!(m.admit(0, 1000, 500), Verdict::Admit);
        // The call used 2000 tokens instead of 500: 1500 over the limit.
        m.adjust(0, 1000, 1500);
        assert_eq!(m.level(0, 1000), 2000.0);
        // Even a tiny call waits until the debt and itself fit: 1001 units = 60.06 s.
        assert_eq!(
            m.admit(0, 1000, 1),
            Verdict::Wait(Duration::from_micros(60_060_000))
        );
        assert_eq!(m.admit(61 * SEC, 1000, 1), Verdict::Admit);
    }

    #[test]
    fn empties_on_schedule() {
        let mut m = Meter::default();
        assert_eq!(m.admit(5 * SEC, 60, 30), Verdict::Admit);
        assert_eq!(m.empty_at_us(60), 35 * SEC);
        assert_eq!(m.level(35 * SEC, 60), 0.0);
    }

    proptest! {
        /// Over any schedule of calls, what is admitted never exceeds the burst plus what drained.
        #[test]
        fn never_admits_more_than_burst_plus_rate(
            per_minute in 1u64..5000,
            calls in proptest::collection::vec((0u64..2 * SEC, 1u64..50), 1..300),
        ) {
            let mut m = Meter::default();
            let mut now = 0;
            let mut total = 0u64;
            for (gap, cost) in calls {
                now += gap;
                if m.admit(now, per_minute, cost) == Verdict::Admit {
                    total += cost;
                }
            }
            let drained = now as f64 * per_minute as f64 / PERIOD_US;
            prop_assert!(total as f64 <= per_minute as f64 + drained + 1e-3);
        }

        /// A refused call is admitted exactly at its retry_after, not a microsecond later.
        #[test]
        fn retry_after_is_tight(per_minute in 1u64..100_000, used in 0u64..100_000, cost in 1u64..100_000) {
            prop_assume!(cost <= per_minute);
            let mut m = Meter::default();
            m.adjust(0, per_minute, used as i64);
            if let Verdict::Wait(wait) = m.admit(0, per_minute, cost) {
                let at = wait.as_micros() as u64;
                prop_assert_eq!(m.admit(at, per_minute, cost), Verdict::Admit);
                let mut early = Meter::default();
                early.adjust(0, per_minute, used as i64);
                prop_assert!(at <= 1 || early.admit(at - 2, per_minute, cost) != Verdict::Admit);
            }
        }
    }
}
