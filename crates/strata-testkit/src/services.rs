//! External services (Postgres, Redis) for tests. Their addresses come from environment
//! variables; a test whose service is not configured is skipped and says so, unless
//! `STRATA_TEST_REQUIRE_SERVICES=1` (set by `.ci/run`), which turns a skip into a failure.

/// A service tests can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Postgres,
    Redis,
}

impl Service {
    /// The environment variable holding the service's URL.
    #[must_use]
    pub fn var(self) -> &'static str {
        match self {
            Service::Postgres => "STRATA_TEST_POSTGRES_URL",
            Service::Redis => "STRATA_TEST_REDIS_URL",
        }
    }
}

/// Whether skipping for a missing service is an error in this run.
#[must_use]
pub fn services_required() -> bool {
    std::env::var("STRATA_TEST_REQUIRE_SERVICES").is_ok_and(|v| v == "1")
}

/// The service's URL, or `None` (the caller reports the skip).
///
/// # Panics
/// When the service is not configured and `STRATA_TEST_REQUIRE_SERVICES=1`.
#[must_use]
pub fn service_url(service: Service) -> Option<String> {
    match std::env::var(service.var()) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                !services_required(),
                "{} is not set but STRATA_TEST_REQUIRE_SERVICES=1",
                service.var()
            );
            None
        }
    }
}

/// Reports a skipped test where `cargo test` shows it (written to the real stderr, past the
/// test harness's output capture).
///
/// # Panics
/// When `STRATA_TEST_REQUIRE_SERVICES=1`: then nothing may be skipped.
pub fn skip(test: &str, reason: &str) {
    use std::io::Write;
    assert!(
        !services_required(),
        "{test} cannot be skipped ({reason}) when STRATA_TEST_REQUIRE_SERVICES=1"
    );
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {reason}");
}
