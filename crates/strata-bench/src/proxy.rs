//! The floor of a proxy on this machine: a pass-through with no features at all (no routing,
//! no accounting, no sessions, no telemetry), so that the ai and mcp benchmarks can tell what
//! the HTTP hop itself costs from what Strata adds on top of it. Two ways of calling the upstream:
//!
//! - `reqwest` (what Strata uses for `https` upstreams): the pooled client, whose connections run in tasks of
//!   their own, so every call hands off to the connection's task and back;
//! - `inline`: `strata-http`'s pool (what Strata uses for plain-`http` upstreams since
//!   2026-12-04): the connection is driven from the request's own task, no hand-off.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

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
    /// The upstream's origin, `http://host:port`.
    origin: Arc<str>,
    mode: Mode,
    client: reqwest::Client,
    pool: strata_http::Pool,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy")
            .field("origin", &self.origin)
            .finish()
    }
}

pub async fn run(args: Args) -> Result<(), String> {
    let origin = format!("http://{}", args.upstream);
    let pool = strata_http::Pool::for_url(&origin, Duration::from_secs(10))
        .ok_or_else(|| format!("{origin}: not a plain-http upstream (or a proxy is set)"))?;
    let proxy = Proxy {
        origin: origin.into(),
        mode: args.mode,
        client: reqwest::Client::new(),
        pool,
    };
    let app = Router::new().fallback(forward).with_state(proxy);
    let listener = tokio::net::TcpListener::bind(&args.addr)
        .await
        .map_err(|e| format!("bind {}: {e}", args.addr))?;
    axum::serve(listener, app).await.map_err(|e| e.to_string())
}

/// Hop-by-hop headers and the ones the next hop sets itself.
fn end_to_end(headers: &HeaderMap) -> HeaderMap {
    let mut kept = headers.clone();
    for name in [
        header::HOST,
        header::CONNECTION,
        header::CONTENT_LENGTH,
        header::TRANSFER_ENCODING,
    ] {
        kept.remove(name);
    }
    kept
}

/// Any method and path, headers both ways (so MCP's session and version headers pass), the
/// answer's body read whole: enough for the benchmarks' plain JSON answers.
async fn forward(
    State(proxy): State<Proxy>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut request = http::Request::new(body);
    *request.method_mut() = method;
    *request.uri_mut() = uri
        .path_and_query()
        .map_or(Uri::from_static("/"), |p| Uri::from(p.clone()));
    *request.headers_mut() = end_to_end(&headers);
    let answer = match proxy.mode {
        Mode::Reqwest => via_reqwest(&proxy, request).await,
        Mode::Inline => inline(&proxy, request).await,
    };
    match answer {
        Ok((status, headers, bytes)) => {
            let mut response = (status, bytes).into_response();
            response.headers_mut().extend(end_to_end(&headers));
            response
        }
        Err(e) => (StatusCode::BAD_GATEWAY, e).into_response(),
    }
}

type Answer = (StatusCode, HeaderMap, Bytes);

async fn via_reqwest(proxy: &Proxy, request: http::Request<Bytes>) -> Result<Answer, String> {
    let (parts, body) = request.into_parts();
    let answer = proxy
        .client
        .request(parts.method, format!("{}{}", proxy.origin, parts.uri))
        .headers(parts.headers)
        .body(body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let (status, headers) = (answer.status(), answer.headers().clone());
    let bytes = answer.bytes().await.map_err(|e| e.to_string())?;
    Ok((status, headers, bytes))
}

async fn inline(proxy: &Proxy, request: http::Request<Bytes>) -> Result<Answer, String> {
    let answer = proxy
        .pool
        .send(request, None)
        .await
        .map_err(|e| e.to_string())?;
    let (parts, body) = answer.into_parts();
    let bytes = body.bytes().await.map_err(|e| e.to_string())?;
    Ok((parts.status, parts.headers, bytes))
}
