//! The exact-match response cache: answers kept by the SHA-256 of the caller's scope (team,
//! else key), the API called, and the request body in a normal form (JSON with sorted keys),
//! for `ttl`. In memory per process, or in Redis (shared by replicas) when `storage.redis` is
//! set. A cached stream is replayed as a stream, event by event. A request opts out with
//! `Cache-Control: no-cache` / `no-store` or `x-strata-cache: no-cache`.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use futures_util::StreamExt;
use http::HeaderMap;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::Ticket;

/// A cached answer.
#[derive(Debug, Clone)]
pub struct Cached {
    pub stream: bool,
    pub body: Bytes,
}

/// Where answers are kept.
#[derive(Clone)]
enum Backend {
    Memory(moka::future::Cache<String, Arc<Cached>>),
    Redis(redis::aio::ConnectionManager),
}

/// The cache of one config generation.
#[derive(Clone)]
pub struct ResponseCache {
    backend: Backend,
    ttl: Duration,
    max_bytes: usize,
}

impl std::fmt::Debug for ResponseCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let backend = match self.backend {
            Backend::Memory(_) => "memory",
            Backend::Redis(_) => "redis",
        };
        write!(f, "ResponseCache({backend}, ttl {:?})", self.ttl)
    }
}

impl ResponseCache {
    #[must_use]
    pub fn new(
        config: &strata_config::Cache,
        redis: Option<redis::aio::ConnectionManager>,
    ) -> Self {
        let backend = match redis {
            Some(conn) => Backend::Redis(conn),
            None => Backend::Memory(
                moka::future::Cache::builder()
                    .max_capacity(config.max_entries)
                    .time_to_live(config.ttl.0)
                    .build(),
            ),
        };
        Self {
            backend,
            ttl: config.ttl.0,
            max_bytes: usize::try_from(config.max_bytes).unwrap_or(usize::MAX),
        }
    }

    /// The key of a call, or `None` when the request opts out.
    #[must_use]
    pub fn key(ticket: &Ticket, path: &str, headers: &HeaderMap) -> Option<String> {
        if opted_out(headers) {
            return None;
        }
        let normal: Value = serde_json::from_slice(&ticket.body).ok()?;
        let who = ticket.who.as_deref();
        let scope = who
            .and_then(|k| k.team.as_ref().map(|t| format!("team:{t}")))
            .or_else(|| who.map(|k| format!("key:{}", k.name)))
            .unwrap_or_default();
        let mut hash = Sha256::new();
        for part in [
            scope.as_bytes(),
            path.as_bytes(),
            normal.to_string().as_bytes(),
        ] {
            hash.update((part.len() as u64).to_le_bytes());
            hash.update(part);
        }
        Some(format!("strata:cache:{}", hex::encode(hash.finalize())))
    }

    /// The cached answer for `key`. A Redis that does not answer is a miss.
    pub async fn get(&self, key: &str) -> Option<Cached> {
        match &self.backend {
            Backend::Memory(cache) => cache.get(key).await.map(|c| (*c).clone()),
            Backend::Redis(conn) => {
                let mut conn = conn.clone();
                let stored: Option<Vec<u8>> = redis::cmd("GET")
                    .arg(key)
                    .query_async(&mut conn)
                    .await
                    .ok()
                    .flatten();
                let stored = stored?;
                let (&kind, body) = stored.split_first()?;
                Some(Cached {
                    stream: kind == b'S',
                    body: Bytes::from(body.to_vec()),
                })
            }
        }
    }

    /// Keeps an answer (unless it is larger than `max_bytes`).
    pub async fn put(&self, key: String, answer: Cached) {
        if answer.body.len() > self.max_bytes {
            return;
        }
        match &self.backend {
            Backend::Memory(cache) => cache.insert(key, Arc::new(answer)).await,
            Backend::Redis(conn) => {
                let mut conn = conn.clone();
                let mut value = Vec::with_capacity(answer.body.len() + 1);
                value.push(if answer.stream { b'S' } else { b'J' });
                value.extend_from_slice(&answer.body);
                let ttl = u64::try_from(self.ttl.as_millis())
                    .unwrap_or(u64::MAX)
                    .max(1);
                let stored: Result<(), redis::RedisError> = redis::cmd("SET")
                    .arg(&key)
                    .arg(value)
                    .arg("PX")
                    .arg(ttl)
                    .query_async(&mut conn)
                    .await;
                if let Err(e) = stored {
                    tracing::warn!(error = %e, "storing an answer in the cache failed");
                }
            }
        }
    }

    /// `body` passed on unchanged; kept under `key` when it ends complete and small enough.
    pub fn tee(&self, body: Body, key: String) -> Body {
        let cache = self.clone();
        let chunks = body.into_data_stream();
        let state = Some((chunks, Vec::new(), cache, key, true));
        let stream = futures_util::stream::unfold(state, |state| async move {
            let (mut chunks, mut kept, cache, key, mut fits) = state?;
            match chunks.next().await {
                Some(Ok(chunk)) => {
                    fits &= kept.len() + chunk.len() <= cache.max_bytes;
                    if fits {
                        kept.extend_from_slice(&chunk);
                    } else {
                        kept = Vec::new();
                    }
                    Some((
                        Ok::<_, axum::Error>(chunk),
                        Some((chunks, kept, cache, key, fits)),
                    ))
                }
                Some(Err(e)) => Some((Err(e), None)),
                None => {
                    // An answer that ended with an error event is not kept.
                    let text = String::from_utf8_lossy(&kept);
                    if fits && !text.contains("\"error\"") {
                        let answer = Cached {
                            stream: true,
                            body: Bytes::from(kept),
                        };
                        tokio::spawn(async move { cache.put(key, answer).await });
                    }
                    None
                }
            }
        });
        Body::from_stream(stream)
    }
}

fn opted_out(headers: &HeaderMap) -> bool {
    let has = |name: &str, words: &[&str]| {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| words.iter().any(|w| v.to_ascii_lowercase().contains(w)))
    };
    has("cache-control", &["no-cache", "no-store"])
        || has("x-strata-cache", &["no-cache", "no-store", "off"])
}

/// A cached stream as a stream again: one chunk per event.
pub fn replay(body: &Bytes) -> Body {
    let mut events = Vec::new();
    let mut rest = &body[..];
    while let Some(i) = rest.windows(2).position(|w| w == b"\n\n") {
        events.push(Bytes::copy_from_slice(&rest[..i + 2]));
        rest = &rest[i + 2..];
    }
    if !rest.is_empty() {
        events.push(Bytes::copy_from_slice(rest));
    }
    Body::from_stream(futures_util::stream::iter(
        events.into_iter().map(Ok::<_, std::convert::Infallible>),
    ))
}
