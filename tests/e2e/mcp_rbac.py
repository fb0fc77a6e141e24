"""Two principals drive one virtual server with the official MCP Python SDK (`mcp`): one sees
and calls a tool, the other sees neither the tool nor any difference between a tool it may not
use and a tool that does not exist.

Environment (set by crates/strata/tests/cli/mcp_security.rs, which also writes the config):
  STRATA_MCP_URL   http://127.0.0.1:PORT/mcp/secure: a virtual server whose only upstream is
                   @modelcontextprotocol/server-everything over stdio, prefix: never
  STRATA_KEY_OPS   a key whose role grants secure/echo and secure/get-sum
  STRATA_KEY_VIEW  a key whose role grants only secure/get-sum

Prints `ok <scenario>` per scenario that passed, `FAIL <scenario>: ...` otherwise, and exits 1
when any failed.
"""

import contextlib
import os

import anyio
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.exceptions import MCPError
from scenarios import run

URL = os.environ["STRATA_MCP_URL"]
OPS = os.environ["STRATA_KEY_OPS"]
VIEW = os.environ["STRATA_KEY_VIEW"]


@contextlib.asynccontextmanager
async def connect(key):
    """An initialised session presenting `key` as its bearer token."""
    http = create_mcp_http_client(headers={"Authorization": f"Bearer {key}"})
    async with http, streamable_http_client(URL, http_client=http) as (read, write):
        async with ClientSession(read, write, read_timeout_seconds=30) as session:
            await session.initialize()
            yield session


async def tool_names(session):
    return sorted(t.name for t in (await session.list_tools()).tools)


async def error_of(session, name, arguments):
    """The JSON-RPC error a call ends with, as (code, message)."""
    try:
        result = await session.call_tool(name, arguments)
    except MCPError as e:
        return (e.error.code, e.error.message)
    raise AssertionError(f"{name} answered {result}")


async def ops_sees_and_calls_the_tool():
    async with connect(OPS) as s:
        assert await tool_names(s) == ["echo", "get-sum"], await tool_names(s)
        r = await s.call_tool("echo", {"message": "allowed"})
        assert not r.is_error and "allowed" in r.content[0].text, r
        r = await s.call_tool("get-sum", {"a": 2, "b": 40})
        assert "42" in r.content[0].text, r


async def view_sees_no_difference():
    async with connect(VIEW) as s:
        names = await tool_names(s)
        assert names == ["get-sum"], names
        forbidden = await error_of(s, "echo", {"message": "not mine"})
        missing = await error_of(s, "no-such-tool", {"message": "not mine"})
        assert forbidden[0] == missing[0] == -32602, (forbidden, missing)
        assert forbidden[1].replace("echo", "X") == missing[1].replace("no-such-tool", "X"), (
            forbidden,
            missing,
        )
        r = await s.call_tool("get-sum", {"a": 1, "b": 2})
        assert "3" in r.content[0].text, r


async def a_foreign_key_is_refused():
    with anyio.fail_after(20):
        try:
            async with connect("sk-not-a-key") as s:
                await s.list_tools()
        except Exception as e:  # noqa: BLE001 - the SDK wraps the 401 in a task group
            text = repr(e)
            assert "401" in text or "Unauthorized" in text, text
            return
    raise AssertionError("an unknown key was let in")


SCENARIOS = [ops_sees_and_calls_the_tool, view_sees_no_difference, a_foreign_key_is_refused]


run(SCENARIOS)
