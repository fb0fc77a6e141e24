//! The floor of a proxy on this machine: a pass-through with no features at all (no routing,
//! no accounting, no telemetry), so that the ai benchmark can tell what the HTTP hop itself
//! costs from what Strata adds on top of it. Two ways of calling the upstream:
//!
//! - `reqwest` (what Strata uses): the pooled client, whose connections run in tasks of
//!   their own, so every call hands off to the connection's task and back;
//! - `inline`: `strata-http`'s pool (what Strata uses for plain-`http` upstreams since
//!   2026-12-04): the connection is driven from the request's own task, no hand-off.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Mode {
    Reqwest,
    Inline,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:9150")]
    addr: String,
    /// The upstream's address (host:port); requests keep their path.
    #[arg(long)]
    upstream: String,
    #[arg(long, value_enum, default_value = "reqwest")]
    mode: Mode,
}

#[derive(Clone)]
struct Proxy {
    upstream: Arc<str>,
    /// Parsed once, as Strata parses its provider URLs once.
    url: reqwest::Url,
    mode: Mode,
    client: reqwest::Client,
    pool: strata_http::Pool,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy")
            .field("upstream", &self.upstream)
            .finish()
    }
}

pub async fn run(args: Args) -> Result<(), String> {
    let url = format!("http://{}/v1/chat/completions", args.upstream);
    let pool = strata_http::Pool::for_url(&url, Duration::from_secs(10))
        .ok_or_else(|| format!("{url}: not a plain-http upstream (or a proxy is set)"))?;
    let url = reqwest::Url::parse(&url).map_err(|e| format!("bad upstream {url}: {e}"))?;
    let proxy = Proxy {
        url,
        upstream: args.upstream.into(),
        mode: args.mode,
        client: reqwest::Client::new(),
        pool,
    };
    let app = Router::new()
        .route("/v1/chat/completions", post(forward))
        .with_state(proxy);
    let listener = tokio::net::TcpListener::bind(&args.addr)
        .await
        .map_err(|e| format!("bind {}: {e}", args.addr))?;
    axum::serve(listener, app).await.map_err(|e| e.to_string())
}

async fn forward(State(proxy): State<Proxy>, body: Bytes) -> Response {
    let answer = match proxy.mode {
        Mode::Reqwest => via_reqwest(&proxy, body).await,
        Mode::Inline => inline(&proxy, body).await,
    };
    match answer {
        Ok(bytes) => ([(header::CONTENT_TYPE, "application/json")], bytes).into_response(),
        Err(e) => (StatusCode::BAD_GATEWAY, e).into_response(),
    }
}

async fn via_reqwest(proxy: &Proxy, body: Bytes) -> Result<Bytes, String> {
    let answer = proxy
        .client
        .post(proxy.url.clone())
        .header(header::CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    answer.bytes().await.map_err(|e| e.to_string())
}

async fn inline(proxy: &Proxy, body: Bytes) -> Result<Bytes, String> {
    let request = http::Request::post("/v1/chat/completions")
        .header(header::CONTENT_TYPE, "application/json")
        .body(body)
        .map_err(|e| e.to_string())?;
    let answer = proxy
        .pool
        .send(request, None)
        .await
        .map_err(|e| e.to_string())?;
    answer.into_body().bytes().await.map_err(|e| e.to_string())
}
