//! The two ways to reach a layer: its router in this process, or its URL.

use std::fmt;

use axum::Router;
use axum::body::Body;
use futures_util::future::BoxFuture;
use http::{Request, Response, header};
use strata_core::Secret;
use tower::ServiceExt;

/// Sends one HTTP request to a layer.
pub trait Transport: Send + Sync + fmt::Debug {
    fn send(&self, request: Request<Body>) -> BoxFuture<'_, Result<Response<Body>, String>>;
}

/// The layer's router, called in-process: same handlers and policy path, no sockets. The
/// caller's [`strata_core::Principal`] rides along as an extension.
#[derive(Clone)]
pub struct InProcess {
    router: Router,
}

impl InProcess {
    #[must_use]
    pub fn new(router: Router) -> Self {
        Self { router }
    }
}

impl fmt::Debug for InProcess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("InProcess")
    }
}

impl Transport for InProcess {
    fn send(&self, mut request: Request<Body>) -> BoxFuture<'_, Result<Response<Body>, String>> {
        let router = self.router.clone();
        Box::pin(async move {
            // Local names pass the mcp layer's DNS-rebinding check.
            request
                .headers_mut()
                .entry(header::HOST)
                .or_insert(http::HeaderValue::from_static("localhost"));
            match router.oneshot(request).await {
                Ok(response) => Ok(response),
                Err(never) => match never {},
            }
        })
    }
}

/// The layer at a URL, with the agent layer's own key, naming the run's principal in
/// `X-Strata-On-Behalf-Of` (honoured when the key's role may `delegate`).
#[derive(Debug, Clone)]
pub struct Http {
    client: reqwest::Client,
    base: String,
    key: Secret,
}

impl Http {
    #[must_use]
    pub fn new(client: reqwest::Client, base: &str, key: Secret) -> Self {
        Self {
            client,
            base: base.trim_end_matches('/').to_string(),
            key,
        }
    }
}

impl Transport for Http {
    fn send(&self, request: Request<Body>) -> BoxFuture<'_, Result<Response<Body>, String>> {
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
            let body = axum::body::to_bytes(body, usize::MAX)
                .await
                .map_err(|e| e.to_string())?;
            let mut headers = parts.headers;
            let auth = format!("Bearer {}", self.key.expose());
            if let Ok(value) = http::HeaderValue::from_str(&auth) {
                headers.insert(header::AUTHORIZATION, value);
            }
            // The run's principal, for a layer that lets this key act for it.
            let principal = parts
                .extensions
                .get::<strata_core::Principal>()
                .and_then(|p| p.name.as_deref())
                .and_then(|n| http::HeaderValue::from_str(n).ok());
            if let Some(principal) = principal {
                headers.insert(strata_core::ON_BEHALF_OF, principal);
            }
            let response = self
                .client
                .request(parts.method, format!("{}{path}", self.base))
                .headers(headers)
                .body(body)
                .send()
                .await
                .map_err(|e| format!("{}: {e}", self.base))?;
            let mut out = Response::builder().status(response.status());
            if let Some(h) = out.headers_mut() {
                *h = response.headers().clone();
            }
            out.body(Body::from_stream(response.bytes_stream()))
                .map_err(|e| e.to_string())
        })
    }
}
