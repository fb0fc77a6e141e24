"""The official A2A Python SDK reaching a remote agent through Strata's A2A proxy
(`/a2a/{name}` for an agent in `agent.agents`): the card points at the gateway, the gateway's
keys decide who gets in, and one caller never reaches another caller's task.

Environment (set by crates/strata/tests/cli/a2a.rs):
  STRATA_AGENT_URL  http://127.0.0.1:PORT (the agent layer)
  STRATA_KEY_A, STRATA_KEY_B  two callers' keys

Prints `ok <scenario>` per scenario that passed, `FAIL <scenario>: ...` otherwise.
"""

import os
import uuid

import httpx
from a2a.client import A2ACardResolver, ClientConfig, ClientFactory
from a2a.types.a2a_pb2 import (
    CancelTaskRequest,
    GetTaskRequest,
    Message,
    Part,
    Role,
    SendMessageRequest,
    TaskState,
)
from a2a.utils.errors import TaskNotFoundError
from scenarios import run

BASE = os.environ["STRATA_AGENT_URL"]
URL = f"{BASE}/a2a/helper"
KEY_A = os.environ["STRATA_KEY_A"]
KEY_B = os.environ["STRATA_KEY_B"]
TASK = {}


async def client(key):
    h = httpx.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=60)
    card = await A2ACardResolver(h, URL).get_agent_card()
    return card, ClientFactory(ClientConfig(streaming=False, httpx_client=h)).create(card)


async def the_card_points_at_the_gateway():
    card, _ = await client(KEY_A)
    assert card.name == "helper", card
    assert [i.url for i in card.supported_interfaces] == [URL], card.supported_interfaces
    assert "bearer" in card.security_schemes


async def a_message_through_the_proxy_reaches_the_agent():
    _, c = await client(KEY_A)
    message = Message(message_id=str(uuid.uuid4()), role=Role.ROLE_USER, parts=[Part(text="via the gateway")])
    [event] = [e async for e in c.send_message(SendMessageRequest(message=message))]
    task = event.task
    assert task.status.state == TaskState.TASK_STATE_COMPLETED, task.status
    assert task.artifacts[0].parts[0].text == "remote helper got: via the gateway", task.artifacts
    got = await c.get_task(GetTaskRequest(id=task.id))
    assert got.id == task.id
    TASK["id"] = task.id


async def another_caller_cannot_reach_the_task():
    _, c = await client(KEY_B)
    for op in (
        lambda: c.get_task(GetTaskRequest(id=TASK["id"])),
        lambda: c.cancel_task(CancelTaskRequest(id=TASK["id"])),
    ):
        try:
            await op()
            raise AssertionError("bob reached alice's task through the proxy")
        except TaskNotFoundError:
            pass


async def an_unknown_key_is_refused():
    async with httpx.AsyncClient(headers={"Authorization": "Bearer sk-nobody"}) as h:
        r = await h.get(f"{URL}/.well-known/agent-card.json")
        assert r.status_code == 401, r.text
        r = await h.post(URL, json={"jsonrpc": "2.0", "id": 1, "method": "GetTask", "params": {"id": "x"}})
        assert r.status_code == 401, r.text


SCENARIOS = [
    the_card_points_at_the_gateway,
    a_message_through_the_proxy_reaches_the_agent,
    another_caller_cannot_reach_the_task,
    an_unknown_key_is_refused,
]


run(SCENARIOS)
