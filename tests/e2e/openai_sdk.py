"""Drives Strata's ai layer with the official OpenAI Python SDK.

Environment: STRATA_AI_URL (e.g. http://127.0.0.1:4000/v1). The Rust test that runs this
configures the providers: `mock` (built-in, model mock-1), `claude` (an Anthropic-format mock
server, model claude-upstream: OpenAI ingress translated to an Anthropic upstream), `primary`
(answers 500 to its try and both retries, then falls back to `backup`, models gpt-backup and
text-embed) and `limited` (always 429
with Retry-After: 1), `gemini` (a Gemini-format mock server, model gemini-upstream), `flaky` (429 with
Retry-After: 1 once, then answers; model gpt-flaky) and `slow` (answers after 3 s, with a
300 ms total timeout, falling back to `backup`; model gpt-slow).
Scenarios that work with any model run against mock-1, claude-upstream and gemini-upstream.
Prints `ok <scenario>` for each scenario that passed; any failure raises.
"""

import json
import os
import time

import urllib.error
import urllib.request
import openai
from openai import OpenAI

BASE = os.environ["STRATA_AI_URL"]
client = OpenAI(base_url=BASE, api_key="sk-client", max_retries=0, timeout=20)


def ok(name):
    print(f"ok {name}", flush=True)


def plain(model):
    r = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "hello sdk"}]
    )
    assert r.choices[0].message.content == "mock: hello sdk", r
    assert r.choices[0].finish_reason == "stop"
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens > 0
    ok(f"plain {model}")


def multipart_and_json_mode():
    r = client.chat.completions.create(
        model="mock-1",
        response_format={"type": "json_object"},
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "describe"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
                ],
            }
        ],
    )
    assert r.choices[0].message.content == "mock: describe", r
    ok("multipart_and_json_mode")


def streaming(model):
    stream = client.chat.completions.create(
        model=model,
        stream=True,
        stream_options={"include_usage": True},
        messages=[{"role": "user", "content": "stream me please"}],
    )
    text, usage, chunks = "", None, 0
    for chunk in stream:
        chunks += 1
        if chunk.choices and chunk.choices[0].delta.content:
            text += chunk.choices[0].delta.content
        if chunk.usage:
            usage = chunk.usage
    assert text == "mock: stream me please", text
    assert chunks > 4, chunks
    assert usage is not None and usage.total_tokens > 0
    ok(f"streaming {model}")


def tools(model):
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Weather for a city",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            },
        }
    ]
    messages = [{"role": "user", "content": "weather in Paris?"}]
    r = client.chat.completions.create(model=model, messages=messages, tools=tools)
    call = r.choices[0].message.tool_calls[0]
    assert r.choices[0].finish_reason == "tool_calls"
    assert call.function.name == "get_weather"
    messages.append(r.choices[0].message.model_dump(exclude_none=True))
    messages.append({"role": "tool", "tool_call_id": call.id, "content": "sunny"})
    r = client.chat.completions.create(model=model, messages=messages, tools=tools)
    assert r.choices[0].message.content == "mock: tool said sunny", r
    ok(f"tools {model}")


def responses_plain(model):
    r = client.responses.create(model=model, instructions="be brief", input="hello responses")
    assert r.output_text == "mock: hello responses", r
    assert r.status == "completed" and r.usage.total_tokens > 0, r
    ok(f"responses_plain {model}")


def responses_streaming(model):
    deltas, kinds, final = [], [], None
    with client.responses.stream(model=model, input="stream the response") as stream:
        for event in stream:
            kinds.append(event.type)
            if event.type == "response.output_text.delta":
                deltas.append(event.delta)
        final = stream.get_final_response()
    assert "".join(deltas) == "mock: stream the response", deltas
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed", kinds
    assert final.output_text == "mock: stream the response"
    ok(f"responses_streaming {model}")


def responses_tools(model):
    tools = [{"type": "function", "name": "get_weather", "description": "Weather",
              "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}]
    r = client.responses.create(model=model, input="weather?", tools=tools)
    call = [o for o in r.output if o.type == "function_call"][0]
    assert call.name == "get_weather", r
    follow = [{"role": "user", "content": "weather?"},
              {"type": "function_call", "call_id": call.call_id, "name": call.name, "arguments": call.arguments},
              {"type": "function_call_output", "call_id": call.call_id, "output": "sunny"}]
    r = client.responses.create(model=model, input=follow, tools=tools)
    assert r.output_text == "mock: tool said sunny", r
    ok(f"responses_tools {model}")


def embeddings():
    for model in ["mock-1", "text-embed"]:
        r = client.embeddings.create(model=model, input=["same", "other"])
        assert len(r.data) == 2 and len(r.data[0].embedding) == 8, r
        assert r.usage.prompt_tokens > 0
        again = client.embeddings.create(model=model, input="same", encoding_format="float")
        assert again.data[0].embedding == r.data[0].embedding, "deterministic, base64 and float agree"
    ok("embeddings")


def models():
    ids = [m.id for m in client.models.list()]
    assert "mock-1" in ids and "gpt-backup" in ids, ids
    ok("models")


def fallback():
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-primary", messages=[{"role": "user", "content": "fall back"}]
    )
    r = raw.parse()
    assert raw.headers["x-strata-provider"] == "backup", dict(raw.headers)
    assert raw.headers["x-strata-attempts"] == "4"  # a try and two retries of primary, then backup
    assert r.model == "gpt-backup"
    assert r.choices[0].message.content == "mock: fall back"
    ok("fallback")


def rate_limited():
    try:
        client.chat.completions.create(
            model="gpt-limited", messages=[{"role": "user", "content": "x"}]
        )
    except openai.RateLimitError as e:
        assert e.status_code == 429
        assert e.response.headers["retry-after"] == "1"
        ok("rate_limited")
        return
    raise AssertionError("expected a RateLimitError")


def retry_after_429():
    started = time.monotonic()
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-flaky", messages=[{"role": "user", "content": "again"}]
    )
    assert raw.headers["x-strata-provider"] == "flaky", dict(raw.headers)
    assert raw.headers["x-strata-attempts"] == "2"
    assert time.monotonic() - started >= 0.9, "waited for Retry-After: 1"
    assert raw.parse().choices[0].message.content == "mock: again"
    ok("retry_after_429")


def timeout():
    started = time.monotonic()
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-slow", messages=[{"role": "user", "content": "hurry"}]
    )
    assert raw.headers["x-strata-provider"] == "backup", dict(raw.headers)
    assert time.monotonic() - started < 3, "gave up on the slow provider"
    ok("timeout")


def unknown_model():
    try:
        client.chat.completions.create(model="nope", messages=[{"role": "user", "content": "x"}])
    except openai.NotFoundError as e:
        assert e.code == "model_not_found", e.body
        ok("unknown_model")
        return
    raise AssertionError("expected a NotFoundError")


def malformed_body():
    request = urllib.request.Request(
        f"{BASE}/chat/completions", data=b"{not json", headers={"content-type": "application/json"}
    )
    try:
        urllib.request.urlopen(request)
        raise AssertionError("expected HTTP 400")
    except urllib.error.HTTPError as e:
        assert e.code == 400, e.code
        body = json.loads(e.read())
    assert body["error"]["type"] == "invalid_request_error", body
    ok("malformed_body")


for model in ["mock-1", "claude-upstream", "gemini-upstream"]:
    plain(model)
    streaming(model)
    tools(model)
    responses_plain(model)
    responses_streaming(model)
    responses_tools(model)
for scenario in [multipart_and_json_mode, embeddings, models, fallback, retry_after_429, timeout, rate_limited, unknown_model, malformed_body]:
    scenario()
