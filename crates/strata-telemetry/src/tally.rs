//! Per-layer request tallies the console reads directly (requests, server errors, latency
//! percentiles at the HTTP histogram's bucket resolution), next to the Prometheus registry.

use std::sync::atomic::{AtomicU64, Ordering};

/// The latency buckets' upper bounds in seconds (the same as the HTTP histogram's).
pub(crate) const BUCKETS: [f64; 16] = [
    0.000_1, 0.000_5, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0,
];

const LAYERS: [&str; 4] = ["ai", "mcp", "agent", "admin"];

/// One layer's traffic so far.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerStats {
    pub layer: &'static str,
    pub requests: u64,
    /// Answers with a 5xx status.
    pub errors: u64,
    /// The median and 99th percentile latency, as the upper bound of their bucket (ms).
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
}

#[derive(Debug, Default)]
struct Tally {
    requests: AtomicU64,
    errors: AtomicU64,
    /// One more than the buckets: the last counts what exceeds them all.
    buckets: [AtomicU64; 17],
}

#[derive(Debug, Default)]
pub(crate) struct Tallies([Tally; 4]);

impl Tallies {
    pub(crate) fn record(&self, layer: &str, status: u16, seconds: f64) {
        let Some(i) = LAYERS.iter().position(|l| *l == layer) else {
            return;
        };
        let t = &self.0[i];
        t.requests.fetch_add(1, Ordering::Relaxed);
        if status >= 500 {
            t.errors.fetch_add(1, Ordering::Relaxed);
        }
        let b = BUCKETS
            .iter()
            .position(|&le| seconds <= le)
            .unwrap_or(BUCKETS.len());
        t.buckets[b].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> Vec<LayerStats> {
        LAYERS
            .iter()
            .zip(&self.0)
            .map(|(layer, t)| {
                let counts: Vec<u64> = t
                    .buckets
                    .iter()
                    .map(|b| b.load(Ordering::Relaxed))
                    .collect();
                LayerStats {
                    layer,
                    requests: t.requests.load(Ordering::Relaxed),
                    errors: t.errors.load(Ordering::Relaxed),
                    p50_ms: quantile(&counts, 0.5),
                    p99_ms: quantile(&counts, 0.99),
                }
            })
            .collect()
    }
}

/// The upper bound (ms) of the bucket holding quantile `q`; past the last bucket, its bound.
fn quantile(counts: &[u64], q: f64) -> Option<f64> {
    let total: u64 = counts.iter().sum();
    if total == 0 {
        return None;
    }
    let rank = (q * total as f64).ceil().max(1.0) as u64;
    let mut seen = 0;
    for (i, c) in counts.iter().enumerate() {
        seen += c;
        if seen >= rank {
            return Some(BUCKETS[i.min(BUCKETS.len() - 1)] * 1000.0);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_come_from_the_buckets_and_errors_are_5xx() {
        let t = Tallies::default();
        for _ in 0..98 {
            t.record("ai", 200, 0.000_3);
        }
        t.record("ai", 503, 0.02);
        t.record("ai", 429, 4.0);
        t.record("nowhere", 200, 1.0);
        let ai = &t.snapshot()[0];
        assert_eq!((ai.requests, ai.errors), (100, 1));
        assert_eq!(ai.p50_ms, Some(0.5));
        assert_eq!(ai.p99_ms, Some(25.0));
        assert_eq!(t.snapshot()[1].p50_ms, None);
    }
}
