//! A zero-latency OpenAI-compatible upstream: the same pre-serialized answer every time, so
//! the measurement is the gateway, not the provider.

use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::json;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:9100")]
    addr: String,
    /// Chunks in a streamed answer.
    #[arg(long, default_value_t = 20)]
    chunks: usize,
    /// Pause between streamed chunks, in milliseconds.
    #[arg(long, default_value_t = 10)]
    chunk_interval_ms: u64,
}

pub async fn run(args: Args) -> Result<(), String> {
    let answer = Bytes::from(
        json!({
            "id": "chatcmpl-bench", "object": "chat.completion", "created": 0, "model": "bench",
            "choices": [{ "index": 0, "message": { "role": "assistant", "content": "benchmark answer" },
                "logprobs": null, "finish_reason": "stop" }],
            "usage": { "prompt_tokens": 10, "completion_tokens": 3, "total_tokens": 13 }
        })
        .to_string(),
    );
    let chunk = Bytes::from(format!(
        "data: {}\n\n",
        json!({ "id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 0, "model": "bench",
            "choices": [{ "index": 0, "delta": { "content": "tok " }, "finish_reason": null }] })
    ));
    let (chunks, interval) = (args.chunks, Duration::from_millis(args.chunk_interval_ms));
    let app = Router::new().route(
        "/v1/chat/completions",
        post(move |body: Bytes| {
            let (answer, chunk) = (answer.clone(), chunk.clone());
            async move {
                if body.windows(13).any(|w| w == b"\"stream\":true") {
                    stream(chunk, chunks, interval)
                } else {
                    ([(header::CONTENT_TYPE, "application/json")], answer).into_response()
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind(&args.addr)
        .await
        .map_err(|e| format!("bind {}: {e}", args.addr))?;
    axum::serve(listener, app).await.map_err(|e| e.to_string())
}

fn stream(chunk: Bytes, chunks: usize, interval: Duration) -> Response {
    let events = futures_util::stream::unfold(0, move |i| {
        let chunk = chunk.clone();
        async move {
            if i > chunks {
                return None;
            }
            if i > 0 {
                tokio::time::sleep(interval).await;
            }
            let data = if i == chunks {
                Bytes::from_static(b"data: [DONE]\n\n")
            } else {
                chunk
            };
            Some((Ok::<_, std::convert::Infallible>(data), i + 1))
        }
    });
    (
        [(header::CONTENT_TYPE, "text/event-stream")],
        Body::from_stream(events),
    )
        .into_response()
}
