//! Graceful shutdown: the listener stops accepting at once, in-flight requests and streams
//! finish within the drain timeout, and what is still running at the timeout is cut.

use std::convert::Infallible;
use std::time::{Duration, Instant};

use axum::Router;
use axum::response::sse::{Event, Sse};
use axum::routing::get;
use futures_util::StreamExt;
use strata_app::serve_routers;
use strata_core::Shutdown;
use tokio::net::TcpListener;

fn slow_router(shutdown: Shutdown) -> Router {
    Router::new()
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(800)).await;
                "done"
            }),
        )
        .route(
            "/stuck",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(60)).await;
                "never"
            }),
        )
        .route(
            "/events",
            get(move || {
                let token = shutdown.token().clone();
                async move { sse_until(token) }
            }),
        )
}

fn sse_until(
    token: tokio_util::sync::CancellationToken,
) -> Sse<impl futures_util::Stream<Item = Result<Event, Infallible>>> {
    let ticks = tokio_stream::wrappers::IntervalStream::new(tokio::time::interval(
        Duration::from_millis(50),
    ))
    .map(|_| Ok::<_, Infallible>(Event::default().data("tick")))
    .take_until(async move { token.cancelled().await });
    Sse::new(ticks)
}

async fn start(
    drain: Duration,
) -> (
    String,
    Shutdown,
    tokio::task::JoinHandle<strata_app::DrainOutcome>,
) {
    let shutdown = Shutdown::new();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let router = slow_router(shutdown.clone());
    let server = tokio::spawn(serve_routers(
        vec![(listener, router)],
        shutdown.clone(),
        drain,
    ));
    (base, shutdown, server)
}

#[tokio::test]
async fn in_flight_requests_finish_and_new_connections_are_refused() {
    let (base, shutdown, server) = start(Duration::from_secs(10)).await;
    let client = reqwest::Client::new();
    let in_flight = tokio::spawn(client.get(format!("{base}/slow")).send());
    tokio::time::sleep(Duration::from_millis(200)).await;
    shutdown.trigger();
    tokio::time::sleep(Duration::from_millis(100)).await;

    // A fresh client (new connection) is refused while the old request is still running.
    let refused = reqwest::Client::new()
        .get(format!("{base}/slow"))
        .send()
        .await;
    assert!(refused.is_err(), "new connection accepted during drain");

    let response = in_flight
        .await
        .unwrap()
        .expect("in-flight request completed");
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "done");
    let outcome = server.await.unwrap();
    assert!(outcome.clean, "{outcome:?}");
}

#[tokio::test]
async fn streams_end_on_shutdown() {
    let (base, shutdown, server) = start(Duration::from_secs(10)).await;
    let response = reqwest::get(format!("{base}/events")).await.unwrap();
    let mut body = response.bytes_stream();
    let first = body.next().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).contains("tick"));
    let started = Instant::now();
    shutdown.trigger();
    // The stream finishes by itself (no error), and the server then stops.
    while let Some(chunk) = tokio::time::timeout(Duration::from_secs(5), body.next())
        .await
        .expect("stream ended after shutdown")
    {
        chunk.expect("stream closed cleanly");
    }
    let outcome = server.await.unwrap();
    assert!(outcome.clean, "{outcome:?}");
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn the_drain_timeout_cuts_what_is_left() {
    let (base, shutdown, server) = start(Duration::from_millis(300)).await;
    let stuck = tokio::spawn(reqwest::Client::new().get(format!("{base}/stuck")).send());
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    shutdown.trigger();
    let outcome = server.await.unwrap();
    assert!(!outcome.clean);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(stuck.await.unwrap().is_err(), "stuck request was cut");
}
