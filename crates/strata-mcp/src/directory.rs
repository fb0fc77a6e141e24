//! The session directory of several replicas (with `storage.redis`): which replica holds each
//! Streamable HTTP session. A request that names a session another replica holds is passed
//! to that replica as it came (method, headers, body; the answer streamed back), so a client
//! behind any load balancer keeps its session, and a DELETE through any replica ends it
//! everywhere. The entry expires with the session's idle timeout and is refreshed while the
//! session is used.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use redis::AsyncCommands;

use crate::McpError;

/// How often a used session's entry is refreshed at most.
const REFRESH_EVERY: Duration = Duration::from_secs(30);

/// Headers not passed between replicas (hop-by-hop, or recomputed).
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "content-length",
    "host",
    "keep-alive",
    "transfer-encoding",
    "upgrade",
];

/// The directory, shared by the config generations of one process.
pub(crate) struct Directory {
    redis: redis::aio::ConnectionManager,
    prefix: String,
    /// How the other replicas reach this one's mcp listener, e.g. `http://10.0.0.5:4001`.
    me: String,
    http: reqwest::Client,
    ttl: Duration,
    refreshed: Mutex<HashMap<String, Instant>>,
}

impl std::fmt::Debug for Directory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Directory")
            .field("me", &self.me)
            .finish_non_exhaustive()
    }
}

impl Directory {
    pub(crate) fn new(
        redis: redis::aio::ConnectionManager,
        me: &str,
        ttl: Duration,
        http: reqwest::Client,
    ) -> Self {
        Self {
            redis,
            prefix: "strata:mcp:session:".into(),
            me: me.trim_end_matches('/').to_string(),
            http,
            ttl: ttl.max(Duration::from_secs(1)),
            refreshed: Mutex::default(),
        }
    }

    fn key(&self, id: &str) -> String {
        format!("{}{id}", self.prefix)
    }

    fn ttl_secs(&self) -> u64 {
        self.ttl.as_secs().max(1)
    }

    /// Records that this replica holds session `id`.
    pub(crate) async fn register(&self, id: &str) {
        let mut redis = self.redis.clone();
        let set: Result<(), _> = redis.set_ex(self.key(id), &self.me, self.ttl_secs()).await;
        if let Err(e) = set {
            tracing::warn!(error = %e, "session directory: cannot register a session");
        }
        self.lock().insert(id.to_string(), Instant::now());
    }

    /// Keeps the entry of a session this replica holds from expiring while it is used.
    pub(crate) fn touch(&self, id: &str) {
        let due = {
            let mut refreshed = self.lock();
            let due = refreshed
                .get(id)
                .is_none_or(|at| at.elapsed() >= REFRESH_EVERY);
            if due {
                refreshed.insert(id.to_string(), Instant::now());
            }
            due
        };
        if due {
            let (mut redis, key, me, ttl) = (
                self.redis.clone(),
                self.key(id),
                self.me.clone(),
                self.ttl_secs(),
            );
            tokio::spawn(async move {
                let _: Result<(), _> = redis.set_ex(key, me, ttl).await;
            });
        }
    }

    /// Removes the entry of a session that ended here.
    pub(crate) async fn forget(&self, id: &str) {
        self.lock().remove(id);
        let mut redis = self.redis.clone();
        let _: Result<(), _> = redis.del(self.key(id)).await;
    }

    /// The replica that holds session `id`, when it is another one.
    pub(crate) async fn elsewhere(&self, id: &str) -> Option<String> {
        let mut redis = self.redis.clone();
        let owner: Option<String> = redis.get(self.key(id)).await.ok().flatten();
        owner.filter(|o| *o != self.me)
    }

    /// Passes a request to the replica `owner` and streams its answer back. A replica that
    /// does not answer has lost the session: 404, as for any session that is gone.
    pub(crate) async fn forward(
        &self,
        owner: &str,
        method: Method,
        path: &str,
        headers: &HeaderMap,
        body: Bytes,
    ) -> Result<Response, McpError> {
        let mut outgoing = HeaderMap::new();
        for (name, value) in headers {
            if !HOP_BY_HOP.contains(&name.as_str()) {
                outgoing.append(name.clone(), value.clone());
            }
        }
        let url = format!("{owner}{path}");
        let sent = self
            .http
            .request(method, &url)
            .headers(outgoing)
            .body(body)
            .send()
            .await;
        let answer = match sent {
            Ok(answer) => answer,
            Err(e) => {
                tracing::warn!(%owner, error = %e, "session directory: the owning replica does not answer");
                return Err(McpError::UnknownSession);
            }
        };
        let status =
            StatusCode::from_u16(answer.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
        let headers = answer.headers().clone();
        let mut response = (status, Body::from_stream(answer.bytes_stream())).into_response();
        for (name, value) in &headers {
            if !HOP_BY_HOP.contains(&name.as_str()) {
                response.headers_mut().append(name.clone(), value.clone());
            }
        }
        Ok(response)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Instant>> {
        self.refreshed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
