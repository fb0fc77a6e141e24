"""The REST service of openapi_service.py, exposed as MCP tools by an `openapi` upstream, driven
with the official MCP Python SDK (`mcp`): tools listed, GET and POST operations called with path,
query and body parameters, an error response, an invalid argument refused before any request,
SSRF attempts that stay percent-encoded under the base URL, and RBAC hiding an operation from
one principal.

Environment (set by crates/strata/tests/cli/openapi_mcp.rs, which also writes the config):
  STRATA_MCP_URL      http://127.0.0.1:PORT/mcp/inventory: a virtual server whose only upstream is
                      the service's OpenAPI document (read by URL), prefix: never
  STRATA_KEY_OPS      a key whose role grants every inventory tool
  STRATA_KEY_VIEW     a key whose role grants only inventory/get_item and inventory/list_items
  SERVICE_URL         the service itself (for GET /_seen)
  SERVICE_TOKEN       the bearer token the gateway must send it

Prints `ok <scenario>` per scenario that passed, `FAIL <scenario>: ...` otherwise, and exits 1
when any failed.
"""

import contextlib
import os

import httpx
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.exceptions import MCPError
from scenarios import run

URL = os.environ["STRATA_MCP_URL"]
OPS = os.environ["STRATA_KEY_OPS"]
VIEW = os.environ["STRATA_KEY_VIEW"]
SERVICE = os.environ["SERVICE_URL"]
TOKEN = os.environ["SERVICE_TOKEN"]


@contextlib.asynccontextmanager
async def connect(key):
    """An initialised session presenting `key` as its bearer token."""
    http = create_mcp_http_client(headers={"Authorization": f"Bearer {key}"})
    async with http, streamable_http_client(URL, http_client=http) as (read, write):
        async with ClientSession(read, write, read_timeout_seconds=30) as session:
            await session.initialize()
            yield session


async def seen():
    """What reached the service, in order."""
    async with httpx.AsyncClient() as client:
        return (await client.get(f"{SERVICE}/_seen")).json()


async def error_of(session, name, arguments):
    """The JSON-RPC error a call ends with, as (code, message)."""
    try:
        result = await session.call_tool(name, arguments)
    except MCPError as e:
        return (e.error.code, e.error.message)
    raise AssertionError(f"{name} answered {result}")


def text(result):
    return result.content[0].text


async def tools_are_listed_with_schemas():
    async with connect(OPS) as s:
        tools = {t.name: t for t in (await s.list_tools()).tools}
        assert sorted(tools) == ["create_item", "delete_item", "get_item", "list_items"], sorted(tools)
        get = tools["get_item"]
        assert get.description == "Read an item", get.description
        assert get.input_schema["required"] == ["item_id"], get.input_schema
        assert get.output_schema["properties"]["price"]["type"] == "number", get.output_schema
        create = tools["create_item"]
        assert sorted(create.input_schema["required"]) == ["name", "price"], create.input_schema
        assert create.input_schema["properties"]["price"]["minimum"] == 0, create.input_schema
        listing = tools["list_items"]
        assert listing.output_schema["properties"]["result"]["type"] == "array", listing.output_schema


async def get_and_post_with_path_query_and_body():
    async with connect(OPS) as s:
        # The SDK checks structuredContent against each tool's outputSchema.
        r = await s.call_tool("get_item", {"item_id": "w1"})
        assert not r.is_error and r.structured_content["name"] == "widget", r
        r = await s.call_tool("list_items", {"tag": "tools", "limit": 5})
        assert [i["id"] for i in r.structured_content["result"]] == ["w1"], r
        r = await s.call_tool("create_item", {"name": "bolt", "price": 1.25, "tags": ["hardware"]})
        assert not r.is_error and r.structured_content["name"] == "bolt", r
        new_id = r.structured_content["id"]
        r = await s.call_tool("get_item", {"item_id": new_id})
        assert r.structured_content["tags"] == ["hardware"], r
        targets = [(x["method"], x["target"]) for x in await seen()]
        assert ("GET", "/items/w1") in targets, targets
        assert ("GET", "/items?tag=tools&limit=5") in targets, targets
        assert ("POST", "/items") in targets, targets
        assert all(x["authorization"] == f"Bearer {TOKEN}" for x in await seen())


async def an_error_response_is_a_tool_error():
    async with connect(OPS) as s:
        r = await s.call_tool("get_item", {"item_id": "nope"})
        assert r.is_error, r
        assert "404" in text(r) and "no item nope" in text(r), text(r)


async def an_invalid_argument_is_refused_before_the_call():
    async with connect(OPS) as s:
        before = len(await seen())
        code, message = await error_of(s, "create_item", {"name": "x", "price": "cheap"})
        assert code == -32602 and "`price`" in message, (code, message)
        code, message = await error_of(s, "list_items", {"limit": 0})
        assert code == -32602 and "`limit`" in message, (code, message)
        code, message = await error_of(s, "get_item", {})
        assert code == -32602 and "`item_id`" in message, (code, message)
        assert len(await seen()) == before, "a refused call reached the service"


async def ssrf_attempts_stay_under_the_base_url():
    async with connect(OPS) as s:
        for value, target in [
            ("../../x", "/items/..%2F..%2Fx"),
            ("http://evil.example/", "/items/http%3A%2F%2Fevil.example%2F"),
            ("a?admin=1#f", "/items/a%3Fadmin%3D1%23f"),
        ]:
            r = await s.call_tool("get_item", {"item_id": value})
            assert r.is_error and "404" in text(r), r
            last = (await seen())[-1]
            assert last["target"] == target, last
            assert last["host"] == SERVICE.removeprefix("http://"), last
        code, message = await error_of(s, "get_item", {"item_id": "w1", "url": "http://evil.example/"})
        assert code == -32602 and "`url`" in message, (code, message)


async def rbac_hides_an_operation_from_one_principal():
    async with connect(VIEW) as s:
        names = sorted(t.name for t in (await s.list_tools()).tools)
        assert names == ["get_item", "list_items"], names
        before = len(await seen())
        forbidden = await error_of(s, "create_item", {"name": "y", "price": 1})
        missing = await error_of(s, "no_such_tool", {})
        assert forbidden[0] == missing[0] == -32602, (forbidden, missing)
        assert len(await seen()) == before
        r = await s.call_tool("get_item", {"item_id": "w1"})
        assert not r.is_error, r


SCENARIOS = [
    tools_are_listed_with_schemas,
    get_and_post_with_path_query_and_body,
    an_error_response_is_a_tool_error,
    an_invalid_argument_is_refused_before_the_call,
    ssrf_attempts_stay_under_the_base_url,
    rbac_hides_an_operation_from_one_principal,
]


run(SCENARIOS)
