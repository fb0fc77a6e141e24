//! Retries and circuit breakers: how long to wait before trying a provider again, and
//! whether to try it at all.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use http::HeaderMap;
use strata_config::{CircuitBreaker, Retry};

/// The wait before retry number `retry` (1-based): exponential from `backoff`, capped at
/// `max_backoff`, with full jitter (uniform between zero and the cap) so that clients that
/// failed together do not retry together.
#[must_use]
pub fn backoff(config: &Retry, retry: u32) -> Duration {
    let base = config.backoff.0.as_secs_f64() * 2f64.powi(retry.saturating_sub(1).min(30) as i32);
    let cap = base.min(config.max_backoff.0.as_secs_f64());
    Duration::from_secs_f64(cap * fastrand::f64())
}

/// What the provider asked us to wait: `retry-after-ms`, or `Retry-After` in seconds or as
/// an HTTP date.
#[must_use]
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(ms) = text("retry-after-ms").and_then(|v| v.parse::<f64>().ok()) {
        return Some(Duration::from_secs_f64(ms.max(0.0) / 1000.0));
    }
    let value = text("retry-after")?;
    if let Ok(secs) = value.parse::<f64>() {
        return Some(Duration::from_secs_f64(secs.max(0.0)));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(SystemTime::now()).unwrap_or_default())
}

#[derive(Debug, Default)]
struct State {
    failures: u32,
    open_until: Option<Instant>,
    probing: bool,
}

/// One circuit breaker per provider.
#[derive(Debug)]
pub struct Breakers {
    config: CircuitBreaker,
    states: Mutex<HashMap<String, State>>,
}

impl Breakers {
    #[must_use]
    pub fn new(config: CircuitBreaker) -> Self {
        Self {
            config,
            states: Mutex::new(HashMap::new()),
        }
    }

    fn with<T>(&self, provider: &str, f: impl FnOnce(&mut State) -> T) -> T {
        let mut states = self
            .states
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(states.entry(provider.to_string()).or_default())
    }

    /// Whether a call may go to `provider` now. After the cooldown one probe is let through;
    /// further calls wait for its outcome.
    pub fn allow(&self, provider: &str) -> bool {
        self.with(provider, |s| match s.open_until {
            None => true,
            Some(until) if Instant::now() < until => false,
            Some(_) if s.probing => false,
            Some(_) => {
                s.probing = true;
                true
            }
        })
    }

    /// Whether the breaker is open now (without taking the probe slot).
    pub fn is_open(&self, provider: &str) -> bool {
        self.with(provider, |s| {
            s.open_until.is_some_and(|until| Instant::now() < until)
        })
    }

    /// The provider answered: close the breaker.
    pub fn success(&self, provider: &str) {
        self.with(provider, |s| *s = State::default());
    }

    /// The provider failed: count it, and open the breaker at the threshold (or again, when
    /// the probe failed).
    pub fn failure(&self, provider: &str) {
        let (threshold, cooldown) = (self.config.failures.max(1), self.config.cooldown.0);
        let opened = self.with(provider, |s| {
            s.failures += 1;
            if s.probing || s.failures >= threshold {
                s.probing = false;
                s.open_until = Some(Instant::now() + cooldown);
                return true;
            }
            false
        });
        if opened {
            tracing::warn!(
                provider,
                cooldown_ms = cooldown.as_millis() as u64,
                "circuit breaker open"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_config::Duration as D;

    #[test]
    fn backoff_grows_and_is_capped_with_jitter() {
        let config = Retry {
            attempts: 5,
            backoff: D::from_millis(100),
            max_backoff: D::from_millis(250),
            max_retry_after: D::from_secs(1),
        };
        for _ in 0..200 {
            assert!(backoff(&config, 1) <= Duration::from_millis(100));
            assert!(backoff(&config, 3) <= Duration::from_millis(250));
        }
        let spread: std::collections::HashSet<u128> =
            (0..50).map(|_| backoff(&config, 2).as_micros()).collect();
        assert!(spread.len() > 10, "jittered");
    }

    #[test]
    fn retry_after_forms() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", "7".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        h.insert("retry-after-ms", "250".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_millis(250)));
        let mut h = HeaderMap::new();
        let later = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(30));
        h.insert("retry-after", later.parse().unwrap());
        let wait = retry_after(&h).unwrap();
        assert!(
            wait > Duration::from_secs(27) && wait <= Duration::from_secs(30),
            "{wait:?}"
        );
        assert_eq!(retry_after(&HeaderMap::new()), None);
    }

    #[test]
    fn breaker_opens_probes_and_closes() {
        let b = Breakers::new(CircuitBreaker {
            failures: 2,
            cooldown: D::from_millis(50),
        });
        assert!(b.allow("p"));
        b.failure("p");
        assert!(b.allow("p"), "one failure is below the threshold");
        b.failure("p");
        assert!(!b.allow("p"), "open");
        std::thread::sleep(Duration::from_millis(60));
        assert!(b.allow("p"), "the probe");
        assert!(!b.allow("p"), "only one probe at a time");
        b.failure("p");
        assert!(!b.allow("p"), "a failed probe opens it again");
        std::thread::sleep(Duration::from_millis(60));
        assert!(b.allow("p"));
        b.success("p");
        assert!(b.allow("p") && b.allow("p"), "closed");
        assert!(b.allow("other"), "breakers are per provider");
    }
}
