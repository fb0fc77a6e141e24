//! Golden tests of the Anthropic ⇄ OpenAI translation (snapshots under `snapshots/`).

use axum::http::StatusCode;
use serde_json::json;

use super::{StreamTranslator, request, response};
use crate::convert::StreamConvert;

#[test]
fn request_to_openai() {
    let anthropic = json!({
        "model": "claude-3-5",
        "max_tokens": 512,
        "system": [{ "type": "text", "text": "You are terse." }, { "type": "text", "text": "Answer in French." }],
        "temperature": 0.2,
        "stop_sequences": ["END"],
        "metadata": { "user_id": "u-42" },
        "stream": true,
        "tool_choice": { "type": "any" },
        "tools": [{ "name": "get_weather", "description": "Weather by city",
            "input_schema": { "type": "object", "properties": { "city": { "type": "string" } }, "required": ["city"] } }],
        "messages": [
            { "role": "user", "content": [
                { "type": "text", "text": "What is in this image, and the weather in Paris?" },
                { "type": "image", "source": { "type": "base64", "media_type": "image/jpeg", "data": "/9j/4AAQ" } },
                { "type": "image", "source": { "type": "url", "url": "https://example.org/cat.png" } }
            ]},
            { "role": "assistant", "content": [
                { "type": "thinking", "thinking": "...", "signature": "x" },
                { "type": "text", "text": "Let me check." },
                { "type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": { "city": "Paris" } }
            ]},
            { "role": "user", "content": [
                { "type": "tool_result", "tool_use_id": "toolu_01", "content": [{ "type": "text", "text": "18C, sunny" }] },
                { "type": "text", "text": "Thanks!" }
            ]}
        ]
    });
    let (openai, model, stream) = request::to_openai(&anthropic).unwrap();
    assert_eq!((model.as_str(), stream), ("claude-3-5", true));
    insta::assert_json_snapshot!(openai);
}

#[test]
fn request_errors_name_the_field() {
    let cases = [
        (
            json!({ "max_tokens": 1, "messages": [] }),
            "model: Field required",
        ),
        (
            json!({ "model": "m", "messages": [] }),
            "max_tokens: Field required",
        ),
        (
            json!({ "model": "m", "max_tokens": 1 }),
            "messages: Field required",
        ),
        (
            json!({ "model": "m", "max_tokens": 1, "messages": [{ "content": "x" }] }),
            "messages.0.role: Field required",
        ),
        (
            json!({ "model": "m", "max_tokens": 1, "messages": [{ "role": "user", "content": [{ "type": "video" }] }] }),
            "messages.0: content block type Some(\"video\") is not supported",
        ),
    ];
    for (body, message) in cases {
        let err = request::to_openai(&body).unwrap_err();
        assert_eq!(err.to_string(), message);
    }
}

#[test]
fn response_from_openai() {
    let completion = json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o",
        "choices": [{ "index": 0, "finish_reason": "tool_calls", "message": {
            "role": "assistant", "content": "Checking.",
            "tool_calls": [
                { "id": "call_1", "type": "function", "function": { "name": "get_weather", "arguments": "{\"city\":\"Paris\"}" } },
                { "id": "call_2", "type": "function", "function": { "name": "broken", "arguments": "not json" } }
            ] } }],
        "usage": { "prompt_tokens": 31, "completion_tokens": 9, "total_tokens": 40 }
    });
    insta::assert_json_snapshot!(response::from_openai(&completion));
}

#[test]
fn stop_reasons() {
    assert_eq!(response::stop_reason(Some("stop")), "end_turn");
    assert_eq!(response::stop_reason(Some("length")), "max_tokens");
    assert_eq!(response::stop_reason(Some("tool_calls")), "tool_use");
    assert_eq!(response::stop_reason(Some("content_filter")), "refusal");
    assert_eq!(response::stop_reason(None), "end_turn");
}

#[test]
fn errors_take_anthropic_shape() {
    let body = json!({ "error": { "message": "slow down", "type": "rate_limit", "param": null, "code": null } });
    assert_eq!(
        response::error_from_openai(StatusCode::TOO_MANY_REQUESTS, &body),
        json!({ "type": "error", "error": { "type": "rate_limit_error", "message": "slow down" } })
    );
    assert_eq!(
        response::error_type(StatusCode::NOT_FOUND),
        "not_found_error"
    );
    assert_eq!(response::error_type(StatusCode::BAD_GATEWAY), "api_error");
}

const OPENAI_STREAM: &str = concat!(
    "data: {\"id\":\"c1\",\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n",
    "data: {\"id\":\"c1\",\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Let me \"},\"finish_reason\":null}]}\n\n",
    "data: {\"id\":\"c1\",\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"check.\"},\"finish_reason\":null}]}\n\n",
    "data: {\"id\":\"c1\",\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"\"}}]},\"finish_reason\":null}]}\n\n",
    "data: {\"id\":\"c1\",\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"city\\\":\"}}]},\"finish_reason\":null}]}\n\n",
    "data: {\"id\":\"c1\",\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"\\\"Paris\\\"}\"}}]},\"finish_reason\":null}]}\n\n",
    "data: {\"id\":\"c1\",\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n",
    "data: {\"id\":\"c1\",\"model\":\"gpt-4o\",\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":7,\"total_tokens\":19}}\n\n",
    "data: [DONE]\n\n",
);

fn translate_in_pieces(input: &str, piece: usize) -> String {
    let mut t = StreamTranslator::new("claude-3-5");
    let mut out = Vec::new();
    for chunk in input.as_bytes().chunks(piece) {
        out.extend(t.push(chunk));
    }
    out.extend(t.finish());
    String::from_utf8(out).unwrap()
}

#[test]
fn stream_to_anthropic_events() {
    let whole = translate_in_pieces(OPENAI_STREAM, usize::MAX);
    insta::assert_snapshot!(whole);
    // However the bytes are split on the wire, the events are the same.
    for piece in [1, 7, 64] {
        assert_eq!(
            translate_in_pieces(OPENAI_STREAM, piece),
            whole,
            "piece size {piece}"
        );
    }
}

#[test]
fn a_stream_cut_short_ends_with_an_error_event() {
    let cut = &OPENAI_STREAM[..OPENAI_STREAM
        .find(
            "{\"id\":\"c1\",\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls",
        )
        .unwrap()];
    let out = translate_in_pieces(cut, 10);
    assert!(out.ends_with("event: error\ndata: {\"error\":{\"message\":\"the upstream stream ended before the message was complete\",\"type\":\"api_error\"},\"type\":\"error\"}\n\n"), "{out}");
    let upstream_error = "data: {\"error\":{\"message\":\"boom\",\"type\":\"api_error\"}}\n\n";
    let out = translate_in_pieces(upstream_error, 3);
    assert!(out.contains("\"message\":\"boom\""), "{out}");
    assert_eq!(out.matches("event: error").count(), 1, "{out}");
}

#[test]
fn openai_request_to_anthropic() {
    let openai = json!({
        "model": "claude-x",
        "max_completion_tokens": 300,
        "stream": true,
        "stream_options": { "include_usage": true },
        "temperature": 0.5,
        "stop": "END",
        "user": "u-7",
        "tool_choice": { "type": "function", "function": { "name": "lookup" } },
        "tools": [{ "type": "function", "function": { "name": "lookup", "description": "Find a thing",
            "parameters": { "type": "object", "properties": { "q": { "type": "string" } } } } }],
        "messages": [
            { "role": "system", "content": "Be exact." },
            { "role": "developer", "content": [{ "type": "text", "text": "Cite sources." }] },
            { "role": "user", "content": [
                { "type": "text", "text": "Look these up" },
                { "type": "image_url", "image_url": { "url": "data:image/png;base64,iVBOR" } },
                { "type": "image_url", "image_url": { "url": "https://example.org/a.jpg" } }
            ]},
            { "role": "assistant", "content": null, "tool_calls": [
                { "id": "call_a", "type": "function", "function": { "name": "lookup", "arguments": "{\"q\":\"a\"}" } },
                { "id": "call_b", "type": "function", "function": { "name": "lookup", "arguments": "{\"q\":\"b\"}" } }
            ]},
            { "role": "tool", "tool_call_id": "call_a", "content": "found a" },
            { "role": "tool", "tool_call_id": "call_b", "content": [{ "type": "text", "text": "found b" }] },
            { "role": "user", "content": "and?" }
        ]
    });
    insta::assert_json_snapshot!(super::request_from_openai(&openai).unwrap());
}

#[test]
fn anthropic_response_to_openai() {
    let message = json!({
        "id": "msg_01", "type": "message", "role": "assistant", "model": "claude-x",
        "content": [
            { "type": "thinking", "thinking": "hmm", "signature": "s" },
            { "type": "text", "text": "Looking it up." },
            { "type": "tool_use", "id": "toolu_1", "name": "lookup", "input": { "q": "a" } }
        ],
        "stop_reason": "tool_use", "stop_sequence": null,
        "usage": { "input_tokens": 20, "output_tokens": 11, "cache_read_input_tokens": 100, "cache_creation_input_tokens": 5 }
    });
    let mut openai = super::response_to_openai(&message);
    openai["created"] = json!(0);
    insta::assert_json_snapshot!(openai);
}

const ANTHROPIC_STREAM: &str = concat!(
    "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_01\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-x\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":25,\"output_tokens\":1}}}\n\n",
    "event: ping\ndata: {\"type\":\"ping\"}\n\n",
    "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Let me \"}}\n\n",
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"look.\"}}\n\n",
    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
    "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"lookup\",\"input\":{}}}\n\n",
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"q\\\":\"}}\n\n",
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\\\"a\\\"}\"}}\n\n",
    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":1}\n\n",
    "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":15}}\n\n",
    "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
);

fn to_openai_in_pieces(input: &str, piece: usize) -> String {
    let mut t = super::StreamToOpenAi::new("claude-x", true);
    let mut out = Vec::new();
    for chunk in input.as_bytes().chunks(piece) {
        out.extend(t.push(chunk));
    }
    out.extend(t.finish());
    // `created` is the clock; pin it for the snapshot.
    let text = String::from_utf8(out).unwrap();
    let created = regex_free_created(&text);
    text.replace(&created, "\"created\":0")
}

fn regex_free_created(text: &str) -> String {
    let start = text.find("\"created\":").unwrap();
    let end = start + text[start..].find(',').unwrap();
    text[start..end].to_string()
}

#[test]
fn anthropic_stream_to_openai_chunks() {
    let whole = to_openai_in_pieces(ANTHROPIC_STREAM, usize::MAX);
    insta::assert_snapshot!(whole);
    for piece in [1, 5, 100] {
        assert_eq!(
            to_openai_in_pieces(ANTHROPIC_STREAM, piece),
            whole,
            "piece size {piece}"
        );
    }
    let cut = &ANTHROPIC_STREAM[..ANTHROPIC_STREAM.find("event: message_delta").unwrap()];
    let out = to_openai_in_pieces(cut, 9);
    assert!(out.ends_with("\"code\":\"upstream_stream_error\",\"message\":\"the upstream stream ended before the message was complete\",\"param\":null,\"type\":\"api_error\"}}\n\n"), "{out}");
    assert!(!out.contains("[DONE]"));
}

#[test]
fn anthropic_errors_take_openai_shape() {
    let body = br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#;
    assert_eq!(
        super::error_to_openai(StatusCode::from_u16(529).unwrap(), body),
        json!({ "error": { "message": "Overloaded", "type": "api_error", "param": null, "code": "overloaded_error" } })
    );
}
