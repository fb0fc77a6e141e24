//! The pool against a hand-driven HTTP/1.1 server, so that each test decides exactly when the
//! upstream answers, stalls or closes its connection.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use strata_http::{Error, Pool};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the server does after reading a request on a connection.
#[derive(Clone, Copy)]
enum Script {
    /// Answers with the request body, keeping the connection open.
    Echo,
    /// Answers, then closes the connection without saying so (a keep-alive timeout).
    EchoThenClose,
    /// Sends the head and half the body, then stalls.
    StallMidBody,
    /// Sends the head and half the body, then closes.
    CloseMidBody,
    /// Reads the request and never answers.
    Silent,
}

struct Server {
    addr: String,
    accepted: Arc<AtomicUsize>,
}

async fn server(script: Script) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(serve(stream, script));
        }
    });
    Server { addr, accepted }
}

async fn serve(mut stream: TcpStream, script: Script) {
    while let Some(body) = read_request(&mut stream).await {
        if matches!(script, Script::Silent) {
            tokio::time::sleep(Duration::from_secs(30)).await;
            return;
        }
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            body.len()
        );
        let _ = stream.write_all(head.as_bytes()).await;
        match script {
            Script::Echo | Script::EchoThenClose => {
                let _ = stream.write_all(&body).await;
                if matches!(script, Script::EchoThenClose) {
                    return;
                }
            }
            Script::StallMidBody | Script::CloseMidBody => {
                let _ = stream.write_all(&body[..body.len() / 2]).await;
                if matches!(script, Script::StallMidBody) {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                }
                return;
            }
            Script::Silent => unreachable!("answered above"),
        }
    }
}

/// One request's body (the head is read up to its blank line; `content-length` sized body).
async fn read_request(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).await.ok()? == 0 {
            return None;
        }
        buf.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&buf).to_ascii_lowercase();
    assert!(head.contains("\r\nhost: "), "every request names its host");
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).await.ok()?;
    Some(body)
}

fn request(body: &'static str) -> http::Request<Bytes> {
    http::Request::post("/v1/echo")
        .body(Bytes::from_static(body.as_bytes()))
        .expect("request")
}

fn pool(server: &Server) -> Pool {
    Pool::for_url(
        &format!("http://{}/v1", server.addr),
        Duration::from_secs(2),
    )
    .expect("a plain http origin")
}

async fn call(pool: &Pool, body: &'static str) -> Result<Bytes, Error> {
    let answer = pool.send(request(body), None).await?;
    answer.into_body().bytes().await
}

#[tokio::test]
async fn keeps_the_connection_alive_between_calls() {
    let server = server(Script::Echo).await;
    let pool = pool(&server);
    for body in ["{\"n\":1}", "{\"n\":2}", "{\"n\":3}"] {
        assert_eq!(call(&pool, body).await.expect("answer"), body.as_bytes());
    }
    assert_eq!(server.accepted.load(Ordering::SeqCst), 1);
    assert_eq!(pool.idle(), 1);
}

#[tokio::test]
async fn a_connection_the_upstream_closed_while_idle_is_replaced() {
    let server = server(Script::EchoThenClose).await;
    let pool = pool(&server);
    assert_eq!(call(&pool, "first").await.expect("answer"), "first");
    // The upstream's close reaches this side before the next call.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(call(&pool, "second").await.expect("answer"), "second");
    assert_eq!(server.accepted.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn concurrent_calls_use_connections_of_their_own() {
    let server = server(Script::Echo).await;
    let pool = pool(&server);
    let calls = (0..8).map(|_| {
        let pool = pool.clone();
        tokio::spawn(async move { call(&pool, "same").await.expect("answer") })
    });
    for done in futures_join(calls).await {
        assert_eq!(done, "same");
    }
    assert!(pool.idle() >= 1);
    // A second round reuses the idle connections instead of opening more.
    let before = server.accepted.load(Ordering::SeqCst);
    assert_eq!(call(&pool, "again").await.expect("answer"), "again");
    assert_eq!(server.accepted.load(Ordering::SeqCst), before);
}

async fn futures_join(handles: impl Iterator<Item = tokio::task::JoinHandle<Bytes>>) -> Vec<Bytes> {
    let mut out = Vec::new();
    for handle in handles {
        out.push(handle.await.expect("task"));
    }
    out
}

#[tokio::test]
async fn the_deadline_bounds_the_body_too() {
    let server = server(Script::StallMidBody).await;
    let pool = pool(&server);
    let deadline = tokio::time::Instant::now() + Duration::from_millis(200);
    let answer = pool
        .send(request("0123456789"), Some(deadline))
        .await
        .expect("the head arrives");
    let error = answer.into_body().bytes().await.expect_err("stalls");
    assert!(error.is_timeout(), "{error}");
    assert_eq!(
        pool.idle(),
        0,
        "a connection with an unread answer is not reused"
    );
}

#[tokio::test]
async fn the_deadline_bounds_the_wait_for_the_head() {
    let server = server(Script::Silent).await;
    let pool = pool(&server);
    let deadline = tokio::time::Instant::now() + Duration::from_millis(200);
    let error = pool
        .send(request("{}"), Some(deadline))
        .await
        .expect_err("silent");
    assert!(error.is_timeout(), "{error}");
}

#[tokio::test]
async fn an_answer_cut_short_is_an_error_and_the_connection_is_dropped() {
    let server = server(Script::CloseMidBody).await;
    let pool = pool(&server);
    let error = call(&pool, "0123456789").await.expect_err("cut short");
    assert!(!error.is_timeout() && !error.is_connect(), "{error}");
    assert_eq!(pool.idle(), 0);
}

#[tokio::test]
async fn a_body_dropped_unread_closes_its_connection() {
    let server = server(Script::Echo).await;
    let pool = pool(&server);
    let answer = pool.send(request("{\"a\":1}"), None).await.expect("answer");
    // Nothing read: the answer is still on the connection.
    drop(answer);
    assert_eq!(pool.idle(), 0);
    assert_eq!(call(&pool, "next").await.expect("answer"), "next");
    assert_eq!(server.accepted.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_refused_connection_is_a_connect_error() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let pool = Pool::for_url(&format!("http://{addr}/v1"), Duration::from_secs(2)).expect("pool");
    let error = call(&pool, "{}").await.expect_err("refused");
    assert!(error.is_connect(), "{error}");
}

#[test]
fn only_plain_http_origins_are_served() {
    let connect = Duration::from_secs(1);
    assert!(Pool::for_url("https://api.openai.com/v1", connect).is_none());
    assert!(Pool::for_url("not a url", connect).is_none());
    assert!(Pool::for_url("http://127.0.0.1:8000/v1", connect).is_some());
    assert!(Pool::for_url("http://vllm/v1", connect).is_some());
}
