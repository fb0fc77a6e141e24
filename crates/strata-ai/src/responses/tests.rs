//! Golden tests of the Responses ⇄ chat translation.

use serde_json::json;

use super::{ChatToResponses, from_chat, to_chat};
use crate::convert::StreamConvert;

#[test]
fn request_to_chat() {
    let request = json!({
        "model": "gpt-x",
        "instructions": "Be brief.",
        "max_output_tokens": 200,
        "stream": true,
        "text": { "format": { "type": "json_schema", "name": "answer", "schema": { "type": "object" }, "strict": true } },
        "tool_choice": { "type": "function", "name": "lookup" },
        "tools": [{ "type": "function", "name": "lookup", "description": "Find", "parameters": { "type": "object" } }],
        "input": [
            { "role": "user", "content": [{ "type": "input_text", "text": "Find a" }, { "type": "input_image", "image_url": "https://example.org/x.png" }] },
            { "type": "function_call", "call_id": "call_1", "name": "lookup", "arguments": "{\"q\":\"a\"}" },
            { "type": "function_call", "call_id": "call_2", "name": "lookup", "arguments": "{\"q\":\"b\"}" },
            { "type": "function_call_output", "call_id": "call_1", "output": "found a" },
            { "type": "function_call_output", "call_id": "call_2", "output": "found b" },
            { "role": "assistant", "content": [{ "type": "output_text", "text": "Both found." }] },
            { "type": "message", "role": "developer", "content": "Answer in JSON." }
        ]
    });
    insta::assert_json_snapshot!(to_chat(&request).unwrap());
}

#[test]
fn request_errors() {
    let cases = [
        (json!({ "model": "m" }), "input: required"),
        (
            json!({ "model": "m", "input": "x", "previous_response_id": "resp_1" }),
            "previous_response_id is not supported: Strata keeps no responses; send the whole conversation in `input`",
        ),
        (
            json!({ "model": "m", "input": "x", "tools": [{ "type": "web_search" }] }),
            "tools[0]: only function tools are supported",
        ),
        (
            json!({ "model": "m", "input": [{ "type": "computer_call" }] }),
            "input[0]: item type `computer_call` is not supported",
        ),
    ];
    for (body, message) in cases {
        assert_eq!(to_chat(&body).unwrap_err().to_string(), message);
    }
}

#[test]
fn chat_answer_to_response() {
    let completion = json!({
        "id": "c1", "object": "chat.completion", "model": "gpt-x",
        "choices": [{ "index": 0, "finish_reason": "tool_calls", "message": { "role": "assistant", "content": "Looking.",
            "tool_calls": [{ "id": "call_9", "type": "function", "function": { "name": "lookup", "arguments": "{}" } }] } }],
        "usage": { "prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17 }
    });
    let mut response = from_chat(&completion);
    response["created_at"] = json!(0);
    insta::assert_json_snapshot!(response);
}

const CHAT_STREAM: &str = concat!(
    "data: {\"id\":\"c1\",\"model\":\"gpt-x\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n",
    "data: {\"id\":\"c1\",\"model\":\"gpt-x\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi \"}}]}\n\n",
    "data: {\"id\":\"c1\",\"model\":\"gpt-x\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"there\"}}]}\n\n",
    "data: {\"id\":\"c1\",\"model\":\"gpt-x\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"lookup\",\"arguments\":\"{\\\"q\\\"\"}}]}}]}\n\n",
    "data: {\"id\":\"c1\",\"model\":\"gpt-x\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\":1}\"}}]}}]}\n\n",
    "data: {\"id\":\"c1\",\"model\":\"gpt-x\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n",
    "data: {\"id\":\"c1\",\"model\":\"gpt-x\",\"choices\":[],\"usage\":{\"prompt_tokens\":4,\"completion_tokens\":6,\"total_tokens\":10}}\n\n",
    "data: [DONE]\n\n",
);

fn translate(input: &str, piece: usize) -> String {
    let mut t = ChatToResponses::new("gpt-x");
    let mut out = Vec::new();
    for chunk in input.as_bytes().chunks(piece) {
        out.extend(t.push(chunk));
    }
    out.extend(t.finish());
    let text = String::from_utf8(out).unwrap();
    // `created_at` is the clock; pin it for the snapshot.
    let mut pinned = String::new();
    for part in text.split("\"created_at\":") {
        if pinned.is_empty() {
            pinned.push_str(part);
        } else {
            let rest = part.trim_start_matches(|c: char| c.is_ascii_digit());
            pinned.push_str("\"created_at\":0");
            pinned.push_str(rest);
        }
    }
    pinned
}

#[test]
fn chat_stream_to_response_events() {
    let whole = translate(CHAT_STREAM, usize::MAX);
    insta::assert_snapshot!(whole);
    for piece in [1, 13, 80] {
        assert_eq!(translate(CHAT_STREAM, piece), whole, "piece size {piece}");
    }
    let numbers: Vec<u64> = whole
        .split("\"sequence_number\":")
        .skip(1)
        .map(|s| {
            s.split(|c: char| !c.is_ascii_digit())
                .next()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    assert_eq!(
        numbers,
        (0..numbers.len() as u64).collect::<Vec<_>>(),
        "monotonic from 0"
    );
    let cut = translate(&CHAT_STREAM[..CHAT_STREAM.find("data: [DONE]").unwrap()], 7);
    assert!(
        cut.contains("event: error") && !cut.contains("response.completed"),
        "{cut}"
    );
}
