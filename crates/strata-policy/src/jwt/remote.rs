//! A JWK set fetched from a URL: fetched on first use, cached, refreshed after its max age
//! (in the background, the cached set serving meanwhile) and when a token names an unknown
//! `kid` (at most once per [`Timings::unknown_key_interval`], so that forged `kid`s cannot
//! make the gateway hammer the identity provider). While refreshes fail, the last good set
//! stays in use.

use std::error::Error as StdError;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use reqwest::header::{ACCEPT, CACHE_CONTROL, HeaderValue};

use super::JwtError;
use super::jwks::KeySet;

/// The largest JWK set accepted, in bytes.
const MAX_JWKS_BYTES: usize = 1 << 20;

/// The clocks of fetching and caching.
#[derive(Debug, Clone)]
pub(super) struct Timings {
    /// Least time between two refetches caused by unknown keys.
    pub(super) unknown_key_interval: Duration,
    /// Least time between a failed fetch and the next attempt while no set was ever fetched
    /// (meanwhile tokens fail with the last error).
    pub(super) retry_without_keys: Duration,
    /// Least time between a failed fetch and the next refresh of a stale set.
    pub(super) retry_stale: Duration,
    /// Max age when the response has no `Cache-Control: max-age`.
    pub(super) default_max_age: Duration,
    pub(super) min_max_age: Duration,
    pub(super) max_max_age: Duration,
    pub(super) fetch_timeout: Duration,
}

impl Default for Timings {
    fn default() -> Self {
        Self {
            unknown_key_interval: Duration::from_secs(30),
            retry_without_keys: Duration::from_secs(5),
            retry_stale: Duration::from_secs(30),
            default_max_age: Duration::from_secs(600),
            min_max_age: Duration::from_secs(60),
            max_max_age: Duration::from_secs(24 * 3600),
            fetch_timeout: Duration::from_secs(5),
        }
    }
}

/// A fetched set.
#[derive(Debug)]
pub(super) struct Cached {
    pub(super) keys: KeySet,
    /// Counts fetches, so a caller can tell whether the set changed since it looked.
    pub(super) generation: u64,
    fetched_at: Instant,
    max_age: Duration,
}

impl Cached {
    fn is_stale(&self, now: Instant) -> bool {
        now.duration_since(self.fetched_at) >= self.max_age
    }
}

#[derive(Debug, Default)]
struct FetchState {
    last_unknown_key_fetch: Option<Instant>,
    last_failure: Option<(Instant, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reason {
    /// No set fetched yet.
    Initial,
    /// The set is past its max age.
    Stale,
    /// A token names a key the set lacks.
    UnknownKey,
}

pub(super) struct Remote {
    url: reqwest::Url,
    http: reqwest::Client,
    timings: Timings,
    cache: ArcSwapOption<Cached>,
    /// Held while fetching: one fetch at a time.
    fetch_lock: tokio::sync::Mutex<()>,
    /// Never held across an await.
    state: Mutex<FetchState>,
    /// Whether a background refresh is under way.
    refreshing: AtomicBool,
}

impl fmt::Debug for Remote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cached = self.cache.load();
        f.debug_struct("Remote")
            .field("url", &self.url.as_str())
            .field("keys", &cached.as_ref().map(|c| c.keys.len()))
            .finish_non_exhaustive()
    }
}

/// Resets the background-refresh flag, even if the refresh panics.
struct ClearOnDrop<'a>(&'a AtomicBool);

impl Drop for ClearOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

impl Remote {
    pub(super) fn new(url: reqwest::Url, http: reqwest::Client, timings: Timings) -> Self {
        Self {
            url,
            http,
            timings,
            cache: ArcSwapOption::empty(),
            fetch_lock: tokio::sync::Mutex::new(()),
            state: Mutex::new(FetchState::default()),
            refreshing: AtomicBool::new(false),
        }
    }

    pub(super) fn url(&self) -> &str {
        self.url.as_str()
    }

    fn state(&self) -> MutexGuard<'_, FetchState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The set to check tokens against: the cached one (a stale one starts a background
    /// refresh and serves meanwhile), or one fetched now if none was yet.
    pub(super) async fn current(self: &Arc<Self>) -> Result<Arc<Cached>, JwtError> {
        if let Some(cached) = self.cache.load_full() {
            if cached.is_stale(Instant::now()) {
                self.refresh_in_background(cached.generation).await;
            }
            return Ok(cached);
        }
        match self.refresh(Reason::Initial, None).await? {
            Some(cached) => Ok(cached),
            // Not reached: without a set, a refresh either fetches one or fails.
            None => Err(JwtError::Jwks("no key set fetched yet".into())),
        }
    }

    /// A newer set than generation `seen`, for a token whose key `seen` lacks: one another
    /// caller fetched meanwhile, or one fetched now unless a refetch for an unknown key
    /// happened less than [`Timings::unknown_key_interval`] ago (or the fetch fails).
    pub(super) async fn refetch_for_unknown_key(&self, seen: u64) -> Option<Arc<Cached>> {
        if let Some(cached) = self.cache.load_full()
            && cached.generation != seen
        {
            return Some(cached);
        }
        if self.unknown_key_refetch_too_soon(Instant::now()) {
            return None;
        }
        self.refresh(Reason::UnknownKey, Some(seen))
            .await
            .ok()
            .flatten()
    }

    fn unknown_key_refetch_too_soon(&self, now: Instant) -> bool {
        self.state()
            .last_unknown_key_fetch
            .is_some_and(|at| now.saturating_duration_since(at) < self.timings.unknown_key_interval)
    }

    fn failed_within(&self, now: Instant, window: Duration) -> bool {
        self.state()
            .last_failure
            .as_ref()
            .is_some_and(|(at, _)| now.saturating_duration_since(*at) < window)
    }

    /// Refreshes a stale set on a spawned task (inline when there is no Tokio runtime), one
    /// refresh at a time, not sooner than [`Timings::retry_stale`] after a failure.
    async fn refresh_in_background(self: &Arc<Self>, seen: u64) {
        if self.failed_within(Instant::now(), self.timings.retry_stale)
            || self.refreshing.swap(true, Ordering::AcqRel)
        {
            return;
        }
        let this = Arc::clone(self);
        let task = async move {
            let _clear = ClearOnDrop(&this.refreshing);
            // A failure is logged and leaves the cached set in place.
            let _ = this.refresh(Reason::Stale, Some(seen)).await;
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(task);
            }
            Err(_) => task.await,
        }
    }

    /// Fetches the set unless another caller did since generation `seen` (`None`: no set) or
    /// the rate limits of `reason` say not yet. `Ok(None)`: nothing newer, the cached set
    /// stays. An error only when there is no set at all.
    async fn refresh(
        &self,
        reason: Reason,
        seen: Option<u64>,
    ) -> Result<Option<Arc<Cached>>, JwtError> {
        let _fetching = self.fetch_lock.lock().await;
        let current = self.cache.load_full();
        if let Some(cached) = &current
            && Some(cached.generation) != seen
        {
            return Ok(Some(Arc::clone(cached)));
        }
        let now = Instant::now();
        {
            let mut state = self.state();
            match reason {
                Reason::Initial => {
                    if let Some((at, message)) = &state.last_failure
                        && now.saturating_duration_since(*at) < self.timings.retry_without_keys
                    {
                        return Err(JwtError::Jwks(message.clone()));
                    }
                }
                Reason::Stale => {
                    if let Some((at, _)) = &state.last_failure
                        && now.saturating_duration_since(*at) < self.timings.retry_stale
                    {
                        return Ok(None);
                    }
                }
                Reason::UnknownKey => {
                    if let Some(at) = state.last_unknown_key_fetch
                        && now.saturating_duration_since(at) < self.timings.unknown_key_interval
                    {
                        return Ok(None);
                    }
                    state.last_unknown_key_fetch = Some(now);
                }
            }
        }
        match self.fetch().await {
            Ok((keys, max_age)) => {
                let generation = current.as_ref().map_or(1, |c| c.generation + 1);
                tracing::debug!(
                    url = %self.url,
                    ?reason,
                    keys = keys.len(),
                    max_age_secs = max_age.as_secs(),
                    "JWKS fetched"
                );
                let cached = Arc::new(Cached {
                    keys,
                    generation,
                    fetched_at: Instant::now(),
                    max_age,
                });
                self.cache.store(Some(Arc::clone(&cached)));
                self.state().last_failure = None;
                Ok(Some(cached))
            }
            Err(message) => {
                self.state().last_failure = Some((Instant::now(), message.clone()));
                if current.is_some() {
                    tracing::warn!(
                        url = %self.url,
                        ?reason,
                        error = %message,
                        "JWKS refresh failed; the previous key set stays in use"
                    );
                    Ok(None)
                } else {
                    tracing::warn!(url = %self.url, error = %message, "JWKS fetch failed");
                    Err(JwtError::Jwks(message))
                }
            }
        }
    }

    /// One GET of the set: the usable keys and how long to cache them.
    async fn fetch(&self) -> Result<(KeySet, Duration), String> {
        let mut response = self
            .http
            .get(self.url.clone())
            .header(
                ACCEPT,
                HeaderValue::from_static("application/jwk-set+json, application/json"),
            )
            .timeout(self.timings.fetch_timeout)
            .send()
            .await
            .map_err(|e| format!("GET {}: {}", self.url, chain(&e.without_url())))?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("GET {}: HTTP status {status}", self.url));
        }
        let max_age = cache_max_age(response.headers().get(CACHE_CONTROL), &self.timings);
        if response
            .content_length()
            .is_some_and(|len| len > MAX_JWKS_BYTES as u64)
        {
            return Err(format!("GET {}: the JWK set exceeds 1 MiB", self.url));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| format!("GET {}: {}", self.url, chain(&e.without_url())))?
        {
            if body.len() + chunk.len() > MAX_JWKS_BYTES {
                return Err(format!("GET {}: the JWK set exceeds 1 MiB", self.url));
            }
            body.extend_from_slice(&chunk);
        }
        let keys = KeySet::parse(&body).map_err(|e| format!("GET {}: {e}", self.url))?;
        Ok((keys, max_age))
    }
}

/// An error and its causes, `: `-separated (reqwest keeps the useful part in the causes).
fn chain(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// How long to cache a set: `Cache-Control: max-age` (`no-cache` and `no-store` count as
/// 0), else the default, clamped to the bounds of `timings`.
pub(super) fn cache_max_age(header: Option<&HeaderValue>, timings: &Timings) -> Duration {
    let seconds = header
        .and_then(|value| value.to_str().ok())
        .and_then(|value| {
            let mut max_age = None;
            for directive in value.split(',').map(str::trim) {
                if directive.eq_ignore_ascii_case("no-cache")
                    || directive.eq_ignore_ascii_case("no-store")
                {
                    return Some(0);
                }
                if let Some((name, arg)) = directive.split_once('=')
                    && name.trim().eq_ignore_ascii_case("max-age")
                {
                    max_age = arg.trim().trim_matches('"').parse::<u64>().ok();
                }
            }
            max_age
        });
    seconds
        .map_or(timings.default_max_age, Duration::from_secs)
        .clamp(timings.min_max_age, timings.max_max_age)
}
