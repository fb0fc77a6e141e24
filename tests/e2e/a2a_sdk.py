"""The official A2A Python SDK (`a2a-sdk`) as a client of Strata's A2A server: cards, blocking
and non-blocking sends, streams, multi-turn input-required in one context, stream resume after
a dropped connection, task isolation between callers, cancel, the HTTP+JSON binding, and the
0.3 wire for requests without `A2A-Version`.

Environment (set by crates/strata/tests/cli/a2a.rs, which also writes the config and workflows):
  STRATA_AGENT_URL  http://127.0.0.1:PORT (the agent layer)
  STRATA_KEY_A      alice's key, STRATA_KEY_B bob's key

Prints `ok <scenario>` per scenario that passed, `FAIL <scenario>: ...` otherwise, and exits 1
when any failed.
"""

import json
import os
import uuid

import anyio
import httpx
from a2a.client import A2ACardResolver, ClientConfig, ClientFactory
from a2a.types.a2a_pb2 import (
    CancelTaskRequest,
    GetTaskRequest,
    ListTasksRequest,
    Message,
    Part,
    Role,
    SendMessageConfiguration,
    SendMessageRequest,
    TaskState,
)
from a2a.utils.constants import TransportProtocol
from a2a.utils.errors import (
    TaskNotCancelableError,
    TaskNotFoundError,
    UnsupportedOperationError,
)
from scenarios import run

BASE = os.environ["STRATA_AGENT_URL"]
KEY_A = os.environ["STRATA_KEY_A"]
KEY_B = os.environ["STRATA_KEY_B"]


def agent_url(name):
    return f"{BASE}/a2a/{name}"


def http(key):
    return httpx.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=60)


async def client(name, key, streaming=False, polling=False, bindings=None):
    h = http(key)
    card = await A2ACardResolver(h, agent_url(name)).get_agent_card()
    config = ClientConfig(
        streaming=streaming,
        polling=polling,
        httpx_client=h,
        supported_protocol_bindings=bindings or [TransportProtocol.JSONRPC],
    )
    return ClientFactory(config).create(card)


def text_message(text, task_id="", context_id=""):
    return Message(
        message_id=str(uuid.uuid4()),
        role=Role.ROLE_USER,
        parts=[Part(text=text)],
        task_id=task_id,
        context_id=context_id,
    )


async def send(c, message, **config):
    request = SendMessageRequest(message=message, configuration=SendMessageConfiguration(**config))
    events = [e async for e in c.send_message(request)]
    return events


def text_of(parts):
    return "".join(p.text for p in parts)


async def the_card_describes_the_workflow():
    async with http(KEY_A) as h:
        card = await A2ACardResolver(h, agent_url("quick")).get_agent_card()
    assert card.name == "quick", card
    assert card.description == "Answers with the model.", card.description
    assert card.capabilities.streaming
    bindings = {(i.protocol_binding, i.protocol_version) for i in card.supported_interfaces}
    assert ("JSONRPC", "1.0") in bindings and ("HTTP+JSON", "1.0") in bindings, bindings
    assert card.supported_interfaces[0].url == agent_url("quick")
    assert [s.id for s in card.skills] == ["quick"]
    assert "team:support" in card.skills[0].tags
    assert list(card.skills[0].examples) == ["What is 2 + 3?"]


async def a_blocking_send_answers_with_the_finished_task():
    c = await client("quick", KEY_A)
    [event] = await send(c, text_message("What is 2 + 3?"))
    task = event.task
    assert task.status.state == TaskState.TASK_STATE_COMPLETED, task
    assert text_of(task.artifacts[0].parts) == "mock: What is 2 + 3?", task.artifacts
    assert [m.role for m in task.history] == [Role.ROLE_USER, Role.ROLE_AGENT], task.history
    assert task.context_id and task.id


async def return_immediately_then_poll_with_get_task():
    # `slow` (two one-second waits): a quick run may already have ended by the answer.
    c = await client("slow", KEY_A, polling=True)
    [event] = await send(c, text_message("poll me"))
    assert event.task.status.state in (
        TaskState.TASK_STATE_SUBMITTED,
        TaskState.TASK_STATE_WORKING,
    ), event.task.status
    for _ in range(100):
        task = await c.get_task(GetTaskRequest(id=event.task.id, history_length=0))
        if task.status.state == TaskState.TASK_STATE_COMPLETED:
            break
        await anyio.sleep(0.1)
    assert task.status.state == TaskState.TASK_STATE_COMPLETED, task.status
    assert len(task.history) == 0, "historyLength 0 leaves the history out"
    one = await c.get_task(GetTaskRequest(id=event.task.id, history_length=1))
    assert [m.role for m in one.history] == [Role.ROLE_AGENT], one.history


async def a_streamed_send_yields_the_task_then_its_updates():
    c = await client("quick", KEY_A, streaming=True)
    events = await send(c, text_message("stream me"))
    assert events[0].HasField("task"), events[0]
    kinds = [e.WhichOneof("payload") for e in events]
    assert "artifact_update" in kinds, kinds
    last = events[-1]
    assert last.HasField("status_update"), last
    assert last.status_update.status.state == TaskState.TASK_STATE_COMPLETED
    art = next(e.artifact_update for e in events if e.HasField("artifact_update"))
    assert text_of(art.artifact.parts) == "mock: stream me"


async def input_required_then_the_next_message_resumes_the_task():
    c = await client("concierge", KEY_A)
    [first] = await send(c, text_message("my balance"))
    task = first.task
    assert task.status.state == TaskState.TASK_STATE_INPUT_REQUIRED, task.status
    assert text_of(task.status.message.parts) == "Which account for: my balance?"
    [second] = await send(c, text_message("ACC-42", task.id, task.context_id))
    done = second.task
    assert done.id == task.id and done.context_id == task.context_id
    assert done.status.state == TaskState.TASK_STATE_COMPLETED, done.status
    assert "account ACC-42" in text_of(done.artifacts[0].parts), done.artifacts
    roles = [m.role for m in done.history]
    assert roles == [Role.ROLE_USER, Role.ROLE_AGENT, Role.ROLE_USER, Role.ROLE_AGENT], roles
    # A finished task never restarts: a refinement is a new task in the same context.
    try:
        await send(c, text_message("again", task.id, task.context_id))
        raise AssertionError("a message to a finished task was accepted")
    except UnsupportedOperationError:
        pass
    [third] = await send(c, text_message("savings", context_id=task.context_id))
    assert third.task.context_id == task.context_id and third.task.id != task.id
    assert third.task.status.state == TaskState.TASK_STATE_INPUT_REQUIRED


async def a_stream_resumes_after_a_dropped_connection():
    headers = {"Authorization": f"Bearer {KEY_A}", "A2A-Version": "1.0"}
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "SendStreamingMessage",
        "params": {"message": {"messageId": str(uuid.uuid4()), "role": "ROLE_USER", "parts": [{"text": "zzz"}]}},
    }
    seen = []
    async with httpx.AsyncClient(timeout=60) as h:
        async with h.stream("POST", agent_url("slow"), json=body, headers=headers) as r:
            assert r.headers["content-type"].startswith("text/event-stream")
            event_id = None
            async for line in r.aiter_lines():
                if line.startswith("id:"):
                    event_id = int(line[3:].strip())
                elif line.startswith("data:"):
                    seen.append((event_id, json.loads(line[5:])["result"]))
                    if len(seen) == 2:
                        break  # the connection drops here
        task_id = seen[0][1]["task"]["id"]
        assert "statusUpdate" in seen[1][1], seen
        last = seen[-1][0]

        async def subscribe(after):
            req = {"jsonrpc": "2.0", "id": 2, "method": "SubscribeToTask", "params": {"id": task_id}}
            out = []
            async with h.stream(
                "POST", agent_url("slow"), json=req, headers={**headers, "Last-Event-ID": str(after)}
            ) as r:
                event_id = None
                async for line in r.aiter_lines():
                    if line.startswith("id:"):
                        event_id = int(line[3:].strip())
                    elif line.startswith("data:"):
                        out.append((event_id, json.loads(line[5:])["result"]))
            return out

        resumed = await subscribe(last)
        everything = await subscribe(0)
    ids = [i for i, _ in seen + resumed]
    assert ids == sorted(set(ids)), f"ids repeat or go back: {ids}"
    assert resumed[-1][1]["statusUpdate"]["status"]["state"] == "TASK_STATE_COMPLETED", resumed
    # Nothing missed: the first stream's updates and the resumed ones are the whole story.
    assert [e for e in seen[1:] + resumed] == [e for e in everything if e[0] > seen[0][0]], (
        seen,
        resumed,
        everything,
    )


async def another_caller_can_neither_see_nor_cancel_the_task():
    a = await client("concierge", KEY_A)
    b = await client("concierge", KEY_B)
    [event] = await send(a, text_message("private"))
    task_id = event.task.id
    for op in (
        lambda: b.get_task(GetTaskRequest(id=task_id)),
        lambda: b.cancel_task(CancelTaskRequest(id=task_id)),
    ):
        try:
            await op()
            raise AssertionError("bob reached alice's task")
        except TaskNotFoundError:
            pass
    theirs = await b.list_tasks(ListTasksRequest(page_size=100))
    assert task_id not in [t.id for t in theirs.tasks]
    # Alice pages through her own tasks, newest first, one at a time.
    page = await a.list_tasks(ListTasksRequest(page_size=1))
    assert [t.id for t in page.tasks] == [task_id], page
    assert page.next_page_token, "a full page has a next page token"
    ids, token = [], ""
    while True:
        page = await a.list_tasks(ListTasksRequest(page_size=2, page_token=token))
        ids += [t.id for t in page.tasks]
        token = page.next_page_token
        if not token:
            break
    assert ids[0] == task_id and len(ids) == len(set(ids)) >= 3, ids
    # Her key still works on it: cancel ends it, and cancel again is harmless.
    canceled = await a.cancel_task(CancelTaskRequest(id=task_id))
    assert canceled.status.state == TaskState.TASK_STATE_CANCELED, canceled.status
    again = await a.cancel_task(CancelTaskRequest(id=task_id))
    assert again.status.state == TaskState.TASK_STATE_CANCELED


async def a_finished_task_cannot_be_canceled():
    c = await client("quick", KEY_A)
    [event] = await send(c, text_message("done quickly"))
    try:
        await c.cancel_task(CancelTaskRequest(id=event.task.id))
        raise AssertionError("a completed task was canceled")
    except TaskNotCancelableError:
        pass


async def the_http_json_binding_works_the_same():
    c = await client("quick", KEY_A, bindings=[TransportProtocol.HTTP_JSON])
    [event] = await send(c, text_message("over rest"))
    assert event.task.status.state == TaskState.TASK_STATE_COMPLETED, event.task
    got = await c.get_task(GetTaskRequest(id=event.task.id))
    assert text_of(got.artifacts[0].parts) == "mock: over rest"
    try:
        await c.get_task(GetTaskRequest(id="no-such-task"))
        raise AssertionError("an unknown task was found")
    except TaskNotFoundError:
        pass


async def requests_without_a_version_speak_0_3():
    body = {
        "jsonrpc": "2.0",
        "id": "x",
        "method": "message/send",
        "params": {"message": {"kind": "message", "messageId": "m", "role": "user", "parts": [{"kind": "text", "text": "old"}]}},
    }
    async with http(KEY_A) as h:
        r = (await h.post(agent_url("quick"), json=body)).json()
        task = r["result"]
        assert task["kind"] == "task" and task["status"]["state"] == "completed", r
        assert task["artifacts"][0]["parts"] == [{"kind": "text", "text": "mock: old"}], task
        r = (await h.post(agent_url("quick"), json={**body, "method": "tasks/get", "params": {"id": task["id"]}})).json()
        assert r["result"]["id"] == task["id"] and r["result"]["kind"] == "task", r
        r = (await h.post(agent_url("quick"), json=body, headers={"A2A-Version": "9.9"})).json()
        assert r["error"]["code"] == -32009, r
        r = (await h.post(agent_url("quick"), json={**body, "method": "tasks/get", "params": {"id": "nope"}})).json()
        assert r["error"]["code"] == -32001, r


SCENARIOS = [
    the_card_describes_the_workflow,
    a_blocking_send_answers_with_the_finished_task,
    return_immediately_then_poll_with_get_task,
    a_streamed_send_yields_the_task_then_its_updates,
    input_required_then_the_next_message_resumes_the_task,
    a_stream_resumes_after_a_dropped_connection,
    another_caller_can_neither_see_nor_cancel_the_task,
    a_finished_task_cannot_be_canceled,
    the_http_json_binding_works_the_same,
    requests_without_a_version_speak_0_3,
]


run(SCENARIOS)
