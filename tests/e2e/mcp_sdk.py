"""Drives Strata's mcp layer with the official MCP Python SDK (`mcp`), through virtual servers
whose upstreams are the reference MCP servers from npm, each run by the gateway over stdio.

Environment (set by crates/strata/tests/cli/mcp_sdk.rs, which also writes the config):
  STRATA_MCP_URL              http://127.0.0.1:PORT/mcp; a virtual server NAME is at .../NAME
  STRATA_E2E_DATA             the folder given to the filesystem server; holds hello.txt
                              ("hello from strata") and an empty folder sub/
  STRATA_E2E_CRASH_MEMORY     a path found only on the command line of the `crashmem` child
                              (its data file)
  STRATA_E2E_CRASH_EVERYTHING a path found only on the command line of the `crashev` child

Virtual servers:
  everything  [everything]                         prefix: never (the upstream's own names)
  all         [everything, fs, memory]             prefixed: everything_echo, fs_read_text_file, ...
  crash       [crashmem (memory), crashev (everything)], prefixed; only this script's crash
              scenario opens it, so each of its upstreams has exactly one child

Prints `ok <scenario>` for each scenario that passed and `info <scenario>: ...` for what it
observed. A failing scenario prints `FAIL <scenario>: ...` (its traceback goes to stderr); the
script goes on with the next one and exits 1 at the end.
"""

import contextlib
import inspect
import json
import os
import re
import signal
import subprocess
import sys
import time
import traceback
import warnings

import anyio
import mcp_types as types
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPDeprecationWarning, MCPError

BASE = os.environ["STRATA_MCP_URL"].rstrip("/")
DATA = os.environ["STRATA_E2E_DATA"]
CRASH_MEMORY = os.environ["STRATA_E2E_CRASH_MEMORY"]
CRASH_EVERYTHING = os.environ["STRATA_E2E_CRASH_EVERYTHING"]
VALID_TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
# Roots are deprecated from 2026-07-28 on; this script speaks 2025-11-25, where they are not.
warnings.filterwarnings("ignore", category=MCPDeprecationWarning)


def info(scenario, text):
    print(f"info {scenario}: {text}", flush=True)


@contextlib.asynccontextmanager
async def connect(server, **callbacks):
    """A session with virtual server `server`, initialised (protocol 2025-11-25)."""
    async with streamable_http_client(f"{BASE}/{server}") as (read, write):
        async with ClientSession(read, write, read_timeout_seconds=30, **callbacks) as session:
            result = await session.initialize()
            assert result.protocol_version == "2025-11-25", result
            yield session


def text_of(result):
    """The text blocks of a tool result or prompt message, joined."""
    return "\n".join(c.text for c in result.content if c.type == "text")


async def all_pages(list_page):
    """Every item of a paginated list: `list_page(cursor)` returns (items, next_cursor)."""
    items, cursor, pages = [], None, 0
    while True:
        page_items, cursor = await list_page(cursor)
        items.extend(page_items)
        pages += 1
        assert pages < 50, "the cursor never ends"
        if not cursor:
            return items


def params(cursor):
    return types.PaginatedRequestParams(cursor=cursor) if cursor else None


async def tool_names(session):
    async def page(cursor):
        r = await session.list_tools(params=params(cursor))
        return r.tools, r.next_cursor

    return [t.name for t in await all_pages(page)]


# Server→client requests are answered by these callbacks; each records what it was asked.
sampled = []
elicited = []
elicit_actions = []
roots_now = []
roots_asked = []


async def on_sampling(context, request):
    sampled.append(request)
    return types.CreateMessageResult(
        role="assistant",
        content=types.TextContent(type="text", text="42, answered by the client"),
        model="e2e-client-model",
        stop_reason="endTurn",
    )


async def on_elicitation(context, request):
    elicited.append(request)
    action = elicit_actions.pop(0) if elicit_actions else "cancel"
    if action == "accept":
        return types.ElicitResult(
            action="accept", content={"name": "Ada Lovelace", "check": True, "integer": 7}
        )
    return types.ElicitResult(action=action)


async def on_list_roots(context):
    roots_asked.append(time.monotonic())
    return types.ListRootsResult(
        roots=[types.Root(uri=f"file://{path}", name=os.path.basename(path)) for path in roots_now]
    )


INTERACTIVE = {"sampling_callback": on_sampling, "elicitation_callback": on_elicitation}


async def eventually(what, check, limit=20):
    """Polls `check()` (returning a value or None, or an awaitable of one) until it has a value."""
    deadline = time.monotonic() + limit
    while True:
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if value is not None:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await anyio.sleep(0.05)


# --- 1. tools, resources, prompts -----------------------------------------------------------


async def tools_single_upstream():
    async with connect("everything", **INTERACTIVE) as s:
        caps = s.server_capabilities
        assert caps.tools is not None and caps.prompts is not None and caps.resources is not None, caps
        names = await tool_names(s)
        # The sampling and elicitation tools exist only for clients that declared those
        # capabilities: the gateway passed the client's capabilities through.
        for name in [
            "echo",
            "get-sum",
            "trigger-long-running-operation",
            "trigger-sampling-request",
            "trigger-elicitation-request",
        ]:
            assert name in names, f"{name} not in {names}"
        r = await s.call_tool("echo", {"message": "hello through strata"})
        assert not r.is_error and text_of(r) == "Echo: hello through strata", r
        r = await s.call_tool("get-sum", {"a": 2, "b": 40})
        assert text_of(r) == "The sum of 2 and 40 is 42.", r
        # A call the upstream rejects is an error result (or error), and the session goes on.
        try:
            r = await s.call_tool("get-sum", {"a": "two", "b": 40})
            assert r.is_error, r
        except MCPError as e:
            info("tools_single_upstream", f"invalid arguments rejected with {e.code}: {e.message}")
        r = await s.call_tool("echo", {"message": "still here"})
        assert text_of(r) == "Echo: still here", r


async def tools_merged():
    async with connect("all") as s:
        names = await tool_names(s)
        assert len(names) == len(set(names)), f"duplicate names: {names}"
        for name in names:
            assert VALID_TOOL_NAME.match(name), f"invalid tool name {name!r}"
            assert name.split("_", 1)[0] in ("everything", "fs", "memory"), f"unprefixed {name}"
        for name in [
            "everything_echo",
            "everything_get-sum",
            "fs_list_directory",
            "fs_read_text_file",
            "fs_write_file",
            "memory_create_entities",
            "memory_read_graph",
        ]:
            assert name in names, f"{name} not in {names}"
        r = await s.call_tool("everything_echo", {"message": "prefixed"})
        assert text_of(r) == "Echo: prefixed", r
        info("tools_merged", f"{len(names)} tools")


async def filesystem():
    async with connect("all") as s:
        r = await s.call_tool("fs_list_directory", {"path": DATA})
        listing = text_of(r)
        assert not r.is_error and "[FILE] hello.txt" in listing and "[DIR] sub" in listing, r
        r = await s.call_tool("fs_read_text_file", {"path": os.path.join(DATA, "hello.txt")})
        assert not r.is_error and text_of(r).strip() == "hello from strata", r
        target = os.path.join(DATA, "sub", "written.txt")
        r = await s.call_tool("fs_write_file", {"path": target, "content": "written through strata"})
        assert not r.is_error, r
        with open(target, encoding="utf-8") as f:
            assert f.read() == "written through strata"
        r = await s.call_tool("fs_read_text_file", {"path": target})
        assert text_of(r) == "written through strata", r
        # The upstream's own sandbox still applies behind the gateway.
        r = await s.call_tool("fs_read_text_file", {"path": "/etc/hostname"})
        assert r.is_error, r


async def memory():
    async with connect("all") as s:
        entity = {
            "name": "strata-e2e",
            "entityType": "test",
            "observations": ["created through the gateway"],
        }
        r = await s.call_tool("memory_create_entities", {"entities": [entity]})
        assert not r.is_error, r
        assert r.structured_content == {"entities": [entity]}, r.structured_content
        r = await s.call_tool("memory_read_graph", {})
        graph = r.structured_content
        assert any(e["name"] == "strata-e2e" for e in graph["entities"]), graph
        # The same graph as a resource of the memory upstream.
        read = await s.read_resource("memory://knowledge-graph")
        assert "strata-e2e" in read.contents[0].text, read


async def resources():
    async with connect("all") as s:

        async def page(cursor):
            r = await s.list_resources(params=params(cursor))
            return r.resources, r.next_cursor

        uris = [r.uri for r in await all_pages(page)]
        for uri in ["demo://resource/static/document/features.md", "memory://knowledge-graph"]:
            assert uri in uris, f"{uri} not in {uris}"
        r = await s.read_resource("demo://resource/static/document/features.md")
        content = r.contents[0]
        assert content.mime_type == "text/markdown" and content.text.startswith("# "), content
        r = await s.read_resource("memory://knowledge-graph")
        assert "entities" in json.loads(r.contents[0].text), r

        async def template_page(cursor):
            r = await s.list_resource_templates(params=params(cursor))
            return r.resource_templates, r.next_cursor

        templates = [t.uri_template for t in await all_pages(template_page)]
        assert "demo://resource/dynamic/text/{resourceId}" in templates, templates
        r = await s.read_resource("demo://resource/dynamic/text/7")
        assert r.contents[0].text.startswith("Resource 7:"), r


async def prompts():
    async with connect("all") as s:

        async def page(cursor):
            r = await s.list_prompts(params=params(cursor))
            return r.prompts, r.next_cursor

        names = [p.name for p in await all_pages(page)]
        for name in [
            "everything_simple-prompt",
            "everything_args-prompt",
            "everything_completable-prompt",
        ]:
            assert name in names, f"{name} not in {names}"
        r = await s.get_prompt("everything_args-prompt", {"city": "Paris", "state": "TX"})
        assert r.messages[0].content.text == "What's weather in Paris, TX?", r
        r = await s.get_prompt("everything_simple-prompt")
        assert r.messages[0].content.text == "This is a simple prompt without arguments.", r
        r = await s.complete(
            types.PromptReference(type="ref/prompt", name="everything_completable-prompt"),
            {"name": "department", "value": "Sa"},
        )
        assert r.completion.values == ["Sales"], r


# --- 2. sampling, 3. elicitation ------------------------------------------------------------


async def sampling():
    sampled.clear()
    async with connect("everything", **INTERACTIVE) as s:
        r = await s.call_tool("trigger-sampling-request", {"prompt": "What is 6 x 7?", "maxTokens": 42})
        assert not r.is_error, r
        assert len(sampled) == 1, sampled
        request = sampled[0]
        assert request.max_tokens == 42, request
        assert "What is 6 x 7?" in request.messages[0].content.text, request
        # The client's answer reached the upstream, which returned it in its result.
        out = text_of(r)
        assert "42, answered by the client" in out and "e2e-client-model" in out, out


async def elicitation():
    elicited.clear()
    async with connect("everything", **INTERACTIVE) as s:
        elicit_actions[:] = ["accept", "decline"]
        r = await s.call_tool("trigger-elicitation-request", {})
        out = text_of(r)
        assert "User provided the requested information" in out, out
        assert "- Name: Ada Lovelace" in out and "- Favorite Integer: 7" in out, out
        r = await s.call_tool("trigger-elicitation-request", {})
        assert "User declined" in text_of(r), r
        assert len(elicited) == 2, elicited
        assert "name" in elicited[0].requested_schema["properties"], elicited[0]


# --- 4. progress, 5. cancellation ------------------------------------------------------------


async def long_running(session, name, duration, steps, wait=2.0):
    """Calls everything's long-running tool with a progress callback; returns the progress seen."""
    seen = []
    last = anyio.Event()

    async def on_progress(progress, total, message):
        seen.append((progress, total))
        if progress == steps:
            last.set()

    arguments = {"duration": duration, "steps": steps}
    r = await session.call_tool(name, arguments, progress_callback=on_progress)
    done = f"Long running operation completed. Duration: {duration} seconds, Steps: {steps}."
    assert text_of(r) == done, r
    # The SDK runs progress callbacks in tasks of their own, so the one for the last
    # notification (sent just before the result) may run after call_tool returned. A
    # notification that comes after the result is dropped by the SDK: never seen.
    with anyio.move_on_after(wait):
        await last.wait()
    return seen


async def progress():
    incomplete = []
    async with connect("everything") as s:
        seen = await long_running(s, "trigger-long-running-operation", 1, 4)
        if seen != [(1, 4), (2, 4), (3, 4), (4, 4)]:
            incomplete.append(seen)
    # The upstream writes its last progress notification and its result back to back: many
    # quick calls, so that a gateway that lets the result overtake the notification is caught
    # (the SDK drops progress that arrives after the result).
    calls = 100
    async with connect("all") as s:
        for _ in range(calls):
            seen = await long_running(s, "everything_trigger-long-running-operation", 0, 3, wait=0.5)
            if seen != [(1, 3), (2, 3), (3, 3)]:
                incomplete.append(seen)
    assert not incomplete, (
        f"{len(incomplete)} of {calls + 1} calls lost progress notifications that the upstream "
        f"sent before its result; progress seen by the first of them: {incomplete[:5]}"
    )


async def cancellation():
    sampled.clear()
    async with connect("everything", **INTERACTIVE) as s:
        started = anyio.Event()
        ended = []

        async def on_progress(progress, total, message):
            started.set()

        async def slow_call():
            try:
                await s.call_tool(
                    "trigger-long-running-operation",
                    {"duration": 30, "steps": 30},
                    progress_callback=on_progress,
                )
                ended.append("completed")
            except anyio.get_cancelled_exc_class():
                ended.append("cancelled")
                raise

        t0 = time.monotonic()
        async with anyio.create_task_group() as tg:
            tg.start_soon(slow_call)
            with anyio.fail_after(10):
                await started.wait()
            # Cancelling the caller makes the SDK send notifications/cancelled.
            tg.cancel_scope.cancel()
        assert ended == ["cancelled"], ended
        assert time.monotonic() - t0 < 10
        # The session keeps working: plain calls, progress, and a server→client request.
        r = await s.call_tool("echo", {"message": "after the cancel"})
        assert text_of(r) == "Echo: after the cancel", r
        seen = await long_running(s, "trigger-long-running-operation", 1, 2, wait=0)
        assert seen and seen[0] == (1, 2), seen
        r = await s.call_tool("trigger-sampling-request", {"prompt": "still there?"})
        assert "42, answered by the client" in text_of(r) and len(sampled) == 1, r


# --- roots (server→client request at start-up, and the client's list_changed fanned out) ----


async def roots():
    sub = os.path.join(DATA, "sub")
    roots_now[:] = [DATA]
    roots_asked.clear()
    async with connect("all", list_roots_callback=on_list_roots) as s:
        # The filesystem (and everything) upstream ask for roots as soon as they are initialised.
        await eventually("a roots/list request", lambda: roots_asked or None)
        asked = len(roots_asked)
        roots_now[:] = [sub]
        # The gateway passes the notification to every upstream, which ask for roots again.
        await s.send_roots_list_changed()
        await eventually("roots/list after list_changed", lambda: len(roots_asked) > asked or None)

        async def narrowed():
            r = await s.call_tool("fs_list_allowed_directories", {})
            allowed = text_of(r)
            return allowed if sub in allowed and f"{DATA}\n" not in f"{allowed}\n" else None

        allowed = await eventually("the filesystem server to use the new roots", narrowed)
        info("roots", allowed.replace("\n", " | "))
        r = await s.call_tool("fs_list_directory", {"path": DATA})
        assert r.is_error, f"{DATA} is outside the new roots: {r}"


# --- 6. a stdio upstream crashing mid-session -----------------------------------------------


def children(marker):
    """Pids of the processes with `marker` on their command line."""
    out = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True, check=False)
    return sorted(int(p) for p in out.stdout.split())


def kill_only_child(marker):
    pids = children(marker)
    assert len(pids) == 1, f"expected one child with {marker}, found {pids}"
    os.kill(pids[0], signal.SIGKILL)
    return pids[0]


async def until_ok(scenario, what, call, limit=20):
    """Retries `call()` until it succeeds and returns its result; reports the errors before.

    A 404 (the session ended) is not retried: the session is gone.
    """
    errors = []
    deadline = time.monotonic() + limit
    while True:
        try:
            result = await call()
            if errors:
                distinct = sorted({f"{e.code} {e.message}" for e in errors})
                info(scenario, f"{what}: {len(errors)} failed attempt(s) first: {distinct}")
            else:
                info(scenario, f"{what}: first attempt succeeded")
            return result
        except MCPError as e:
            if "Session not found" in e.message or "Session terminated" in e.message:
                raise AssertionError(
                    f"{what}: the gateway ended the session (404) instead of re-initialising "
                    "the upstream"
                ) from e
            errors.append(e)
        assert time.monotonic() < deadline, (
            f"{what}: still failing after {limit}s: {errors[-1].message}"
        )
        await anyio.sleep(0.05)


async def crash():
    async with connect("crash") as s:
        names = await tool_names(s)
        assert "crashmem_read_graph" in names and "crashev_echo" in names, names
        survivor = {
            "name": "survivor",
            "entityType": "test",
            "observations": ["written before the crash"],
        }
        r = await s.call_tool("crashmem_create_entities", {"entities": [survivor]})
        assert not r.is_error, r

        # a) The child dies while a call is in flight: that call fails promptly, the others go on.
        started = anyio.Event()
        outcome = []

        async def on_progress(progress, total, message):
            started.set()

        async def doomed_call():
            try:
                await s.call_tool(
                    "crashev_trigger-long-running-operation",
                    {"duration": 30, "steps": 30},
                    progress_callback=on_progress,
                )
                outcome.append("completed")
            except MCPError as e:
                outcome.append(e)

        try:
            # Well short of the 30 s the call would take if its child lived.
            with anyio.fail_after(15):
                async with anyio.create_task_group() as tg:
                    tg.start_soon(doomed_call)
                    await started.wait()
                    old = kill_only_child(CRASH_EVERYTHING)
        except TimeoutError:
            message = f"the call in flight did not end after its child died: {outcome}"
            raise AssertionError(message) from None
        assert len(outcome) == 1 and isinstance(outcome[0], MCPError), outcome
        info("crash", f"the call in flight failed with {outcome[0].code}: {outcome[0].message}")
        r = await until_ok(
            "crash",
            "crashev_echo after the kill",
            lambda: s.call_tool("crashev_echo", {"message": "back"}),
        )
        assert text_of(r) == "Echo: back", r
        new = children(CRASH_EVERYTHING)
        assert len(new) == 1 and new[0] != old, f"expected a new child, old {old}, now {new}"

        # b) The child dies while idle: the next calls reach a re-initialised child, which
        # reads the same data file, so the state written before the crash is still there.
        old = kill_only_child(CRASH_MEMORY)
        r = await until_ok(
            "crash",
            "crashmem_read_graph after the kill",
            lambda: s.call_tool("crashmem_read_graph", {}),
        )
        assert any(e["name"] == "survivor" for e in r.structured_content["entities"]), r
        new = children(CRASH_MEMORY)
        assert len(new) == 1 and new[0] != old, f"expected a new child, old {old}, now {new}"

        # The session is whole again: every tool of both upstreams listed, both callable.
        names = await tool_names(s)
        assert "crashmem_read_graph" in names and "crashev_echo" in names, names
        r = await s.call_tool("crashev_get-sum", {"a": 1, "b": 1})
        assert text_of(r) == "The sum of 1 and 1 is 2.", r
        info("crash", "the session kept working: the gateway re-initialised both upstreams")


SCENARIOS = [
    tools_single_upstream,
    tools_merged,
    filesystem,
    memory,
    resources,
    prompts,
    sampling,
    elicitation,
    progress,
    cancellation,
    roots,
    crash,
]


def leaves(error):
    """The exceptions inside (nested) exception groups; task groups wrap what failed in them."""
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in leaves(inner)]
    return [error]


async def main():
    only = set(sys.argv[1:])
    failed = []
    for scenario in SCENARIOS:
        name = scenario.__name__
        if only and name not in only:
            continue
        try:
            with anyio.fail_after(90):
                await scenario()
            print(f"ok {name}", flush=True)
        except Exception as e:  # noqa: BLE001 - report every failure and go on
            failed.append(name)
            causes = "; ".join(f"{type(x).__name__}: {x}" for x in leaves(e))
            print(f"FAIL {name}: {causes}", flush=True)
            traceback.print_exc()
    if failed:
        sys.exit(1)


anyio.run(main)
