//! The idle connections to one upstream origin, and the call that uses them.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::HeaderValue;
use http_body_util::Full;
use tokio::net::TcpStream;

use crate::conn::{Conn, Unsent};
use crate::{Body, Error};

/// Idle connections kept per origin; more are closed once their answer has been read.
const MAX_IDLE: usize = 256;
/// An idle connection older than this is closed rather than used.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Variables that make reqwest (and curl) go through a proxy: with any of them set the
/// caller keeps its proxy-aware client.
const PROXY_VARIABLES: [&str; 4] = ["http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"];

/// The variable that turns this client off when set to `0`.
pub const DISABLE: &str = "STRATA_INLINE_HTTP";

/// Keep-alive HTTP/1.1 connections to one plain-`http` origin. Cloning shares the pool.
#[derive(Debug, Clone)]
pub struct Pool {
    inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    /// `host:port` to connect to.
    authority: String,
    /// The `Host` header of every request.
    host: HeaderValue,
    connect_timeout: Duration,
    idle: Mutex<Vec<(Conn, Instant)>>,
}

impl Pool {
    /// A pool for the origin of `url`, if this client can serve it: plain `http` and no proxy
    /// variable set in the environment. `STRATA_INLINE_HTTP=0` turns it off for every
    /// upstream (callers then use reqwest throughout).
    #[must_use]
    pub fn for_url(url: &str, connect_timeout: Duration) -> Option<Self> {
        let proxied = PROXY_VARIABLES
            .iter()
            .any(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()));
        if proxied || std::env::var_os(DISABLE).is_some_and(|v| v == "0") {
            return None;
        }
        let uri: http::Uri = url.parse().ok()?;
        if uri.scheme() != Some(&http::uri::Scheme::HTTP) {
            return None;
        }
        let authority = uri.authority()?;
        let host = HeaderValue::from_str(authority.as_str()).ok()?;
        let port = authority.port_u16().unwrap_or(80);
        let host_name = authority.host();
        Some(Self {
            inner: Arc::new(Inner {
                authority: format!("{host_name}:{port}"),
                host,
                connect_timeout,
                idle: Mutex::default(),
            }),
        })
    }

    /// Sends `request` (its URI in origin form: path and query) and returns the answer,
    /// whose body drives the connection while it is read and gives it back at its end.
    /// `deadline` bounds the whole call, body included.
    ///
    /// # Errors
    /// When no connection can be opened, the deadline passes, or the exchange fails.
    pub async fn send(
        &self,
        request: http::Request<Bytes>,
        deadline: Option<tokio::time::Instant>,
    ) -> Result<http::Response<Body>, Error> {
        let mut request = request.map(Full::new);
        request
            .headers_mut()
            .entry(http::header::HOST)
            .or_insert_with(|| self.inner.host.clone());
        let mut timer = deadline.map(|at| Box::pin(tokio::time::sleep_until(at)));
        let exchange = self.exchange(request);
        let (answer, conn) = match timer.as_mut() {
            None => exchange.await?,
            Some(timer) => tokio::select! {
                biased;
                exchanged = exchange => exchanged?,
                () = timer.as_mut() => return Err(Error::Timeout),
            },
        };
        let inner = self.inner.clone();
        Ok(answer.map(|incoming| Body::new(incoming, conn, inner, timer)))
    }

    /// Sends on an idle connection, or on a new one when none is left or the idle ones
    /// turn out closed before the request was written.
    async fn exchange(
        &self,
        mut request: http::Request<Full<Bytes>>,
    ) -> Result<(http::Response<hyper::body::Incoming>, Conn), Error> {
        while let Some(mut conn) = self.inner.checkout() {
            match conn.send(request).await {
                Ok(answer) => return Ok((answer, conn)),
                Err(Unsent::Retry(back)) => request = *back,
                Err(Unsent::Failed(error)) => return Err(error),
            }
        }
        let mut conn = self.connect().await?;
        match conn.send(request).await {
            Ok(answer) => Ok((answer, conn)),
            Err(Unsent::Retry(_)) => Err(Error::Closed),
            Err(Unsent::Failed(error)) => Err(error),
        }
    }

    async fn connect(&self) -> Result<Conn, Error> {
        let authority = &self.inner.authority;
        let connecting = TcpStream::connect(authority.as_str());
        let stream = match tokio::time::timeout(self.inner.connect_timeout, connecting).await {
            Err(_) => return Err(Error::ConnectTimeout(authority.clone())),
            Ok(Err(source)) => {
                return Err(Error::Connect {
                    authority: authority.clone(),
                    source,
                });
            }
            Ok(Ok(stream)) => stream,
        };
        Conn::open(stream).await
    }

    /// How many idle connections the pool holds (for tests and diagnostics).
    #[must_use]
    pub fn idle(&self) -> usize {
        self.inner.idle.lock().map_or(0, |idle| idle.len())
    }
}

impl Inner {
    /// The most recently used idle connection that is still open.
    fn checkout(&self) -> Option<Conn> {
        loop {
            let (mut conn, since) = self.idle.lock().ok()?.pop()?;
            if since.elapsed() < IDLE_TIMEOUT && conn.is_usable() {
                return Some(conn);
            }
        }
    }

    /// Takes back a connection whose answer has been read completely.
    pub(crate) fn checkin(&self, mut conn: Conn) {
        if !conn.is_usable() {
            return;
        }
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < MAX_IDLE
        {
            idle.push((conn, Instant::now()));
        }
    }
}
