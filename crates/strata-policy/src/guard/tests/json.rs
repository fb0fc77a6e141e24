//! JSON bodies and webhooks.

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use strata_config::{Duration, FailMode, GuardAction, GuardSide, GuardrailKind};
use strata_core::Secret;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{Guards, def, guards};

async fn check(g: &Guards, side: GuardSide, mut body: Value) -> (Value, Vec<super::Verdict>) {
    let verdicts = g.check_json(side, &mut body).await.unwrap();
    (body, verdicts)
}

#[tokio::test]
async fn openai_chat_request() {
    let g = guards(&[], &["pii_redaction"]);
    let body = json!({
        "model": "gpt-4o-a@b.io",
        "messages": [
            {"role": "system", "content": "Contact admin@corp.com"},
            {"role": "user", "name": "a@b.io", "content": [
                {"type": "text", "text": "my email is a@b.io"},
                {"type": "image_url", "image_url": {"url": "https://x.io/?u=a@b.io"}}
            ]},
            {"role": "assistant", "content": null, "tool_calls": [{
                "id": "call_a@b.io", "type": "function",
                "function": {"name": "send", "arguments": "{\"to\":\"x@y.com\"}"}
            }]},
            {"role": "tool", "tool_call_id": "a@b.io", "content": "sent to x@y.com"}
        ],
        "tools": [{"type": "function", "function": {"name": "send", "description": "a@b.io",
            "parameters": {"type": "object", "properties": {"input": {"type": "string"}}}}}],
        "metadata": {"content": "a@b.io"}
    });
    let mut want = body.clone();
    want["messages"][0]["content"] = json!("Contact [EMAIL]");
    want["messages"][1]["content"][0]["text"] = json!("my email is [EMAIL]");
    want["messages"][2]["tool_calls"][0]["function"]["arguments"] = json!("{\"to\":\"[EMAIL]\"}");
    want["messages"][3]["content"] = json!("sent to [EMAIL]");
    let (got, verdicts) = check(&g, GuardSide::Request, body).await;
    assert_eq!(got, want);
    assert_eq!(verdicts.len(), 1);
    assert_eq!(
        (verdicts[0].matches, verdicts[0].action),
        (4, GuardAction::Redact)
    );
}

#[tokio::test]
async fn anthropic_messages_request() {
    let g = guards(&[], &["pii_redaction"]);
    let body = json!({
        "model": "claude",
        "system": [{"type": "text", "text": "Key sk-abcdefghijklmnopqrstuvwx", "cache_control": {"type": "ephemeral"}}],
        "messages": [
            {"role": "user", "content": [
                {"type": "text", "text": "ip 10.0.0.1"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "10.0.0.1"}}
            ]},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "user is at 10.0.0.2", "signature": "10.0.0.3"},
                {"type": "tool_use", "id": "toolu_1", "name": "lookup",
                 "input": {"query": "who is a@b.io", "filters": {"cc": ["c@d.io"], "n": 1}}}
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "a@b.io is Ann"}]}
            ]}
        ]
    });
    let mut want = body.clone();
    want["system"][0]["text"] = json!("Key [SECRET]");
    want["messages"][0]["content"][0]["text"] = json!("ip [IP_ADDRESS]");
    want["messages"][1]["content"][0]["thinking"] = json!("user is at [IP_ADDRESS]");
    want["messages"][1]["content"][1]["input"] =
        json!({"query": "who is [EMAIL]", "filters": {"cc": ["[EMAIL]"], "n": 1}});
    want["messages"][2]["content"][0]["content"][0]["text"] = json!("[EMAIL] is Ann");
    assert_eq!(check(&g, GuardSide::Request, body).await.0, want);

    let body =
        json!({"system": "mail a@b.io", "messages": [{"role": "user", "content": "hi c@d.io"}]});
    let want =
        json!({"system": "mail [EMAIL]", "messages": [{"role": "user", "content": "hi [EMAIL]"}]});
    assert_eq!(check(&g, GuardSide::Request, body).await.0, want);
}

#[tokio::test]
async fn responses_request_and_bodies() {
    let g = guards(&[], &["pii_redaction"]);
    let body = json!({"model": "m", "instructions": "never say a@b.io", "input": "hi c@d.io", "prompt": {"id": "pmpt_a@b.io"}});
    let (got, _) = check(&g, GuardSide::Request, body).await;
    assert_eq!(got["instructions"], "never say [EMAIL]");
    assert_eq!(got["input"], "hi [EMAIL]");
    assert_eq!(got["prompt"]["id"], "pmpt_a@b.io");

    let body = json!({"input": [
        {"role": "user", "content": [{"type": "input_text", "text": "a@b.io"},
                                     {"type": "input_image", "image_url": "data:a@b.io"}]},
        {"type": "function_call", "call_id": "a@b.io", "name": "f", "arguments": "{\"q\":\"a@b.io\"}"},
        {"type": "function_call_output", "call_id": "c1", "output": "found c@d.io"}
    ]});
    let (got, _) = check(&g, GuardSide::Request, body).await;
    assert_eq!(got["input"][0]["content"][0]["text"], "[EMAIL]");
    assert_eq!(got["input"][0]["content"][1]["image_url"], "data:a@b.io");
    assert_eq!(got["input"][1]["call_id"], "a@b.io");
    assert_eq!(got["input"][1]["arguments"], "{\"q\":\"[EMAIL]\"}");
    assert_eq!(got["input"][2]["output"], "found [EMAIL]");

    // Response bodies of the three APIs.
    let chat = json!({"id": "a@b.io", "choices": [{"index": 0, "message": {"role": "assistant", "content": "a@b.io"}}]});
    assert_eq!(
        check(&g, GuardSide::Response, chat).await.0["choices"][0]["message"]["content"],
        "[EMAIL]"
    );
    let messages = json!({"id": "msg", "content": [{"type": "text", "text": "a@b.io"}], "stop_reason": "end_turn"});
    assert_eq!(
        check(&g, GuardSide::Response, messages).await.0["content"][0]["text"],
        "[EMAIL]"
    );
    let responses = json!({"output": [{"type": "message", "content": [{"type": "output_text", "text": "a@b.io", "annotations": []}]}]});
    assert_eq!(
        check(&g, GuardSide::Response, responses).await.0["output"][0]["content"][0]["text"],
        "[EMAIL]"
    );
}

#[tokio::test]
async fn json_blocks_and_respects_sides() {
    let mut d = def("resp", GuardrailKind::PiiRedaction);
    d.apply_to = vec![GuardSide::Response];
    d.action = Some(GuardAction::Block);
    let g = guards(&[d], &["pii_redaction", "resp"]);
    let body = json!({"messages": [{"role": "user", "content": "a@b.io"}]});
    let (got, verdicts) = check(&g, GuardSide::Request, body).await;
    assert_eq!(got["messages"][0]["content"], "[EMAIL]");
    assert_eq!(verdicts.len(), 1);
    // On responses, the redaction runs first, then the block sees only placeholders.
    let mut body =
        json!({"content": [{"type": "text", "text": "ok"}, {"type": "text", "text": "10.1.1.1"}]});
    assert!(g.check_json(GuardSide::Response, &mut body).await.is_ok());
    let g = guards(
        &[def("resp", GuardrailKind::PiiRedaction)].map(|mut d| {
            d.action = Some(GuardAction::Block);
            d
        }),
        &["resp"],
    );
    let mut body =
        json!({"content": [{"type": "text", "text": "ok"}, {"type": "text", "text": "10.1.1.1"}]});
    let b = g
        .check_json(GuardSide::Response, &mut body)
        .await
        .unwrap_err();
    assert_eq!(b.reason, "personal data found: ip_address");
}

/// A one-route HTTP server answering every POST with `status` and `body` after `delay`;
/// it records the requests' JSON and headers.
struct Hook {
    url: String,
    seen: Arc<Mutex<Vec<(Value, String)>>>,
}

async fn hook(status: u16, body: &'static str, delay_ms: u64) -> Hook {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/check", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let record = record.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let (head, len) = loop {
                    let n = sock.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..i]).to_lowercase();
                        let len = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        buf.drain(..i + 4);
                        break (head, len);
                    }
                };
                while buf.len() < len {
                    let n = sock.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                let json = serde_json::from_slice(&buf).unwrap_or(Value::Null);
                record.lock().unwrap().push((json, head));
                tokio::time::sleep(std::time::Duration::from_millis(delay_ms)).await;
                let reply = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(reply.as_bytes()).await;
            });
        }
    });
    Hook { url, seen }
}

fn webhook(url: &str, on_error: Option<FailMode>) -> Guards {
    let mut d = def("hook", GuardrailKind::Webhook);
    d.url = Some(url.into());
    d.headers.insert("x-api-key".into(), Secret::new("k123"));
    d.timeout = Some(Duration::from_millis(300));
    d.on_error = on_error;
    guards(&[d], &["pii_redaction", "hook"])
}

#[tokio::test]
async fn webhook_allow_sees_redacted_text_once_per_body() {
    let h = hook(200, r#"{"action": "allow"}"#, 0).await;
    let g = webhook(&h.url, None);
    let body = json!({"messages": [{"role": "user", "content": "hi a@b.io"}, {"role": "user", "content": "bye"}]});
    let (_, verdicts) = check(&g, GuardSide::Request, body).await;
    assert_eq!(verdicts.len(), 1, "only the pii verdict");
    let seen = h.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        seen[0].0,
        json!({"guardrail": "hook", "side": "request", "text": "hi [EMAIL]\n\nbye"})
    );
    assert!(seen[0].1.contains("x-api-key: k123"));
    // Plain text checks and bodies without text do not call it.
    assert!(
        g.check(GuardSide::Request, "hello")
            .unwrap()
            .verdicts
            .is_empty()
    );
    check(&g, GuardSide::Request, json!({"model": "m"})).await;
    assert_eq!(h.seen.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn webhook_block_and_replace() {
    let h = hook(200, r#"{"action": "block", "reason": "off topic"}"#, 0).await;
    let mut body = json!({"input": "hello"});
    let b = webhook(&h.url, None)
        .check_json(GuardSide::Response, &mut body)
        .await
        .unwrap_err();
    assert_eq!(
        (b.guardrail.as_str(), b.reason.as_str()),
        ("hook", "off topic")
    );
    assert_eq!(b.side, GuardSide::Response);

    let h = hook(200, r#"{"action": "replace", "text": "HELLO"}"#, 0).await;
    let g = webhook(&h.url, None);
    let (got, verdicts) = check(&g, GuardSide::Request, json!({"input": "hello"})).await;
    assert_eq!(got, json!({"input": "HELLO"}));
    assert_eq!(verdicts[0].action, GuardAction::Redact);
    // Several strings: the replacement is ignored, the body goes through flagged.
    let body = json!({"input": ["one", "two"]});
    let (got, verdicts) = check(&g, GuardSide::Request, body.clone()).await;
    assert_eq!(got, body);
    assert_eq!(verdicts[0].action, GuardAction::Flag);
    assert!(
        verdicts[0]
            .reason
            .as_deref()
            .unwrap_or("")
            .contains("2 text strings")
    );
}

#[tokio::test]
async fn webhook_failures_follow_on_error() {
    for (status, body, delay) in [
        (500, r#"{"action":"allow"}"#, 0),
        (200, "not json", 0),
        (200, r#"{"action":"maybe"}"#, 0),
        (200, r#"{"action":"allow"}"#, 2000),
    ] {
        let h = hook(status, body, delay).await;
        let mut doc = json!({"prompt": "hello"});
        let b = webhook(&h.url, None)
            .check_json(GuardSide::Request, &mut doc)
            .await
            .unwrap_err();
        assert_eq!(b.reason, "webhook unavailable", "{status} {body}");
        let (got, verdicts) = check(
            &webhook(&h.url, Some(FailMode::Open)),
            GuardSide::Request,
            json!({"prompt": "hello"}),
        )
        .await;
        assert_eq!(got, json!({"prompt": "hello"}));
        assert_eq!(verdicts.len(), 1);
        assert_eq!(verdicts[0].action, GuardAction::Flag);
        assert!(
            verdicts[0]
                .reason
                .as_deref()
                .unwrap_or("")
                .starts_with("webhook unavailable")
        );
    }
    // Nothing listening.
    let mut doc = json!({"prompt": "hello"});
    assert!(
        webhook("http://127.0.0.1:9/", None)
            .check_json(GuardSide::Request, &mut doc)
            .await
            .is_err()
    );
}

#[test]
fn check_json_is_send() {
    fn send<T: Send>(_: &T) {}
    let g = Guards::default();
    let mut body = json!({});
    send(&g.check_json(GuardSide::Request, &mut body));
}
