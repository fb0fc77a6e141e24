//! Upstream connections of a plain-`http` provider (driven in the request's task by
//! `strata-http`): kept alive between calls, and replaced without a failed attempt when the
//! provider closed them while idle (as servers with a short keep-alive timeout do).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::{chat_request, gateway, json, send};

const ANSWER: &str = r#"{"id":"c1","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}"#;

/// A provider answering every chat call with [`ANSWER`]; with `close_after_answer` it closes
/// each connection once it has answered, without saying so in the answer. Returns its base
/// URL and the number of connections it accepted.
async fn provider(close_after_answer: bool) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(answer_each(stream, close_after_answer));
        }
    });
    (format!("http://{addr}/v1"), accepted)
}

async fn answer_each(mut stream: TcpStream, close_after_answer: bool) {
    while read_request(&mut stream).await {
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            ANSWER.len()
        );
        if stream.write_all(head.as_bytes()).await.is_err()
            || stream.write_all(ANSWER.as_bytes()).await.is_err()
            || close_after_answer
        {
            return;
        }
    }
}

/// Reads one request (head and `content-length` body); false at the end of the connection.
async fn read_request(stream: &mut TcpStream) -> bool {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte).await {
            Ok(1) => head.push(byte[0]),
            _ => return false,
        }
    }
    let text = String::from_utf8_lossy(&head).to_ascii_lowercase();
    let length = text
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).await.is_ok()
}

fn config(base: &str) -> String {
    format!(
        "ai:\n  retry: {{ attempts: 0 }}\n  providers:\n    - {{ name: local, kind: openai, api_base: '{base}', models: [m] }}\n"
    )
}

fn ask() -> serde_json::Value {
    json!({ "model": "m", "messages": [{ "role": "user", "content": "hello" }] })
}

#[tokio::test]
async fn calls_to_a_plain_http_provider_share_one_kept_alive_connection() {
    let (base, accepted) = provider(false).await;
    let app = gateway(&config(&base));
    for _ in 0..5 {
        let (status, headers, body) = send(&app, chat_request(&ask())).await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        assert_eq!(json(&body)["choices"][0]["message"]["content"], "hi");
        assert_eq!(headers["x-strata-attempts"], "1");
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_connection_the_provider_closed_while_idle_costs_no_failed_attempt() {
    let (base, accepted) = provider(true).await;
    let app = gateway(&config(&base));
    for call in 0..5 {
        let (status, headers, body) = send(&app, chat_request(&ask())).await;
        assert_eq!(
            status,
            200,
            "call {call}: {}",
            String::from_utf8_lossy(&body)
        );
        assert_eq!(headers["x-strata-attempts"], "1", "call {call}");
        // The provider's close reaches the gateway before the next call.
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 5);
}
