"""Drives Strata's ai layer with the official Anthropic Python SDK.

Environment: STRATA_AI_URL (e.g. http://127.0.0.1:4000, no /v1: the SDK adds it). The Rust
test configures the built-in `mock` provider (model mock-1), `upstream`, an OpenAI-compatible
mock server (model gpt-upstream: Anthropic ingress translated to an OpenAI upstream), and
`claude`, an Anthropic-format mock server (model claude-upstream: passed through untranslated),
and `gemini`, a Gemini-format mock server (model gemini-upstream).
Prints `ok <scenario>` for each scenario that passed; any failure raises.
"""

import os

import anthropic
from anthropic import Anthropic

client = Anthropic(base_url=os.environ["STRATA_AI_URL"], api_key="sk-ant-client", max_retries=0, timeout=20)


def ok(name):
    print(f"ok {name}", flush=True)


def plain(model):
    m = client.messages.create(
        model=model,
        max_tokens=100,
        system="You are a test.",
        messages=[{"role": "user", "content": "hello claude"}],
    )
    assert m.type == "message" and m.role == "assistant", m
    assert m.content[0].type == "text" and m.content[0].text == "mock: hello claude", m
    assert m.stop_reason == "end_turn", m
    assert m.usage.input_tokens > 0 and m.usage.output_tokens > 0, m.usage
    ok(f"plain {model}")


def streaming(model):
    with client.messages.stream(
        model=model, max_tokens=100, messages=[{"role": "user", "content": "stream it now"}]
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "mock: stream it now", text
    assert final.content[0].text == text
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens > 0
    ok(f"streaming {model}")


TOOLS = [
    {
        "name": "get_weather",
        "description": "Weather for a city",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
    }
]


def tools(model):
    messages = [{"role": "user", "content": "weather in Paris?"}]
    m = client.messages.create(model=model, max_tokens=100, tools=TOOLS, messages=messages)
    assert m.stop_reason == "tool_use", m
    use = [b for b in m.content if b.type == "tool_use"][0]
    assert use.name == "get_weather" and use.input == {}, use
    messages.append({"role": "assistant", "content": [b.model_dump() for b in m.content]})
    messages.append(
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "sunny"}]}
    )
    m = client.messages.create(model=model, max_tokens=100, tools=TOOLS, messages=messages)
    assert m.content[0].text == "mock: tool said sunny", m
    ok(f"tools {model}")


def streaming_tools(model):
    with client.messages.stream(
        model=model, max_tokens=100, tools=TOOLS, messages=[{"role": "user", "content": "weather?"}]
    ) as stream:
        final = stream.get_final_message()
    use = [b for b in final.content if b.type == "tool_use"][0]
    assert use.name == "get_weather" and use.input == {}, final
    assert final.stop_reason == "tool_use"
    ok(f"streaming_tools {model}")


def count_tokens():
    r = client.messages.count_tokens(
        model="mock-1", system="sys", messages=[{"role": "user", "content": "count these words please"}]
    )
    assert r.input_tokens > 0, r
    ok("count_tokens")


def errors():
    try:
        client.messages.create(model="nope", max_tokens=10, messages=[{"role": "user", "content": "x"}])
        raise AssertionError("expected NotFoundError")
    except anthropic.NotFoundError as e:
        assert e.body["error"]["type"] == "not_found_error", e.body
    try:
        client.messages.create(model="mock-1", max_tokens=10, messages=[{"role": "user", "content": [{"type": "video"}]}])
        raise AssertionError("expected BadRequestError")
    except anthropic.BadRequestError as e:
        assert e.body["type"] == "error" and e.body["error"]["type"] == "invalid_request_error", e.body
    ok("errors")


for model in ["mock-1", "gpt-upstream", "claude-upstream", "gemini-upstream"]:
    plain(model)
    streaming(model)
    tools(model)
    streaming_tools(model)
count_tokens()
errors()
