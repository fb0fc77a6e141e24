//! When a failed attempt is tried again: the first retry rule that covers the error class
//! decides the number of attempts and the wait (exponential backoff, optional jitter).

use std::time::Duration;

use strata_config::RetryRule;

use super::event::StepError;

/// How long to wait before attempt `attempt + 1`, or `None` when no rule allows another.
#[must_use]
pub fn delay(
    rules: &[RetryRule],
    error: &StepError,
    attempt: u32,
    random: f64,
) -> Option<Duration> {
    let rule = rules.iter().find(|r| error.matches(&r.errors))?;
    if attempt >= rule.max_attempts {
        return None;
    }
    let base = rule.interval.0.as_secs_f64();
    let factor = rule.backoff.max(1.0).powi(attempt.saturating_sub(1) as i32);
    let mut wait = base * factor;
    if let Some(max) = rule.max_interval {
        wait = wait.min(max.0.as_secs_f64());
    }
    if rule.jitter {
        // Between half and all of the wait, so that many retries do not arrive together.
        wait *= 0.5 + 0.5 * random.clamp(0.0, 1.0);
    }
    Some(Duration::from_secs_f64(wait.max(0.0)))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn rules(spec: serde_json::Value) -> Vec<RetryRule> {
        serde_json::from_value(spec).unwrap()
    }

    #[test]
    fn backoff_grows_and_stops_after_max_attempts() {
        let r = rules(
            json!([{ "errors": ["timeout", "unavailable"], "max_attempts": 4,
                               "interval": "1s", "backoff": 2.0, "max_interval": "3s" }]),
        );
        let e = StepError::new("timeout", "slow");
        let waits: Vec<_> = (1..=4).map(|a| delay(&r, &e, a, 0.0)).collect();
        assert_eq!(
            waits,
            [
                Some(Duration::from_secs(1)),
                Some(Duration::from_secs(2)),
                Some(Duration::from_secs(3)),
                None
            ]
        );
        assert_eq!(
            delay(&r, &StepError::new("bad_request", "no"), 1, 0.0),
            None
        );
    }

    #[test]
    fn jitter_stays_between_half_and_all() {
        let r = rules(json!([{ "errors": ["all"], "interval": "1s", "jitter": true }]));
        let e = StepError::new("tool_error", "x");
        assert_eq!(delay(&r, &e, 1, 0.0), Some(Duration::from_millis(500)));
        assert_eq!(delay(&r, &e, 1, 1.0), Some(Duration::from_secs(1)));
        assert_eq!(delay(&r, &e, 3, 0.5), None, "three attempts by default");
    }
}
