//! The floor of a proxy on this machine: a pass-through with no features at all (no routing,
//! no accounting, no telemetry), so that the ai benchmark can tell what the HTTP hop itself
//! costs from what Strata adds on top of it. Two ways of calling the upstream:
//!
//! - `reqwest` (what Strata uses): the pooled client, whose connections run in tasks of
//!   their own, so every call hands off to the connection's task and back;
//! - `inline`: hyper's HTTP/1 connection driven from the request's own task (taken from a
//!   small pool of idle connections, put back once the answer is read): no hand-off.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::task::Poll;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use futures_util::FutureExt;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

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

type Conn = (
    http1::SendRequest<Full<Bytes>>,
    http1::Connection<TokioIo<TcpStream>, Full<Bytes>>,
);

#[derive(Clone)]
struct Proxy {
    upstream: Arc<str>,
    /// Parsed once, as Strata parses its provider URLs once.
    url: reqwest::Url,
    mode: Mode,
    client: reqwest::Client,
    idle: Arc<Mutex<Vec<Conn>>>,
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
    let url = reqwest::Url::parse(&url).map_err(|e| format!("bad upstream {url}: {e}"))?;
    let proxy = Proxy {
        url,
        upstream: args.upstream.into(),
        mode: args.mode,
        client: reqwest::Client::new(),
        idle: Arc::default(),
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
    let idle = proxy.idle.lock().ok().and_then(|mut idle| idle.pop());
    let (mut sender, mut conn) = match idle {
        Some(conn) => conn,
        None => {
            let stream = TcpStream::connect(&*proxy.upstream)
                .await
                .map_err(|e| e.to_string())?;
            let _ = stream.set_nodelay(true);
            http1::handshake(TokioIo::new(stream))
                .await
                .map_err(|e| e.to_string())?
        }
    };
    let request = http::Request::post("/v1/chat/completions")
        .header(header::HOST, &*proxy.upstream)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Full::new(body))
        .map_err(|e| e.to_string())?;
    let answer = beside(&mut conn, sender.send_request(request)).await?;
    let bytes = beside(&mut conn, answer.into_body().collect())
        .await?
        .to_bytes();
    // Let the connection settle into keep-alive before it goes back.
    let closed = std::future::poll_fn(|cx| Poll::Ready(conn.poll_unpin(cx).is_ready())).await;
    if !closed && let Ok(mut idle) = proxy.idle.lock() {
        idle.push((sender, conn));
    }
    Ok(bytes)
}

/// Runs `work` while polling the connection beside it, which does the I/O in this task.
async fn beside<T>(
    conn: &mut http1::Connection<TokioIo<TcpStream>, Full<Bytes>>,
    work: impl Future<Output = Result<T, hyper::Error>>,
) -> Result<T, String> {
    let mut work = std::pin::pin!(work);
    std::future::poll_fn(|cx| {
        if let Poll::Ready(done) = conn.poll_unpin(cx) {
            return Poll::Ready(Err(format!("connection ended: {done:?}")));
        }
        work.as_mut().poll(cx).map_err(|e| e.to_string())
    })
    .await
}
