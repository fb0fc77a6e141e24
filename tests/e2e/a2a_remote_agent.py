"""A remote A2A agent built with the official A2A Python SDK (`a2a-sdk[http-server]`), for the
tests where a Strata workflow hands off to another agent and where callers reach it through
Strata's A2A proxy.

It answers every message with an artifact `remote <name> got: <text>` (plus the keys of any
`context` it was handed), and appends one JSON line per request to $STRATA_REMOTE_LOG with the
headers that matter to the tests (traceparent, authorization, a2a-version) and the message.

Usage: python a2a_remote_agent.py PORT NAME
"""

import json
import os
import sys

import uvicorn
from a2a.helpers.proto_helpers import new_task, new_text_part
from a2a.server.agent_execution import AgentExecutor, RequestContext
from a2a.server.events import EventQueue
from a2a.server.request_handlers import DefaultRequestHandler
from a2a.server.routes import create_agent_card_routes, create_jsonrpc_routes
from a2a.server.tasks import InMemoryTaskStore, TaskUpdater
from a2a.types.a2a_pb2 import AgentCapabilities, AgentCard, AgentInterface, AgentSkill, TaskState
from google.protobuf.json_format import MessageToDict
from starlette.applications import Starlette

PORT = int(sys.argv[1])
NAME = sys.argv[2]
LOG = os.environ["STRATA_REMOTE_LOG"]


class Remote(AgentExecutor):
    async def execute(self, context: RequestContext, event_queue: EventQueue) -> None:
        updater = TaskUpdater(event_queue, context.task_id, context.context_id)
        if not context.current_task:
            await event_queue.enqueue_event(
                new_task(context.task_id, context.context_id, TaskState.TASK_STATE_SUBMITTED, history=[context.message])
            )
        await updater.start_work()
        text = context.get_user_input()
        handed = []
        for part in context.message.parts:
            if part.HasField("data"):
                data = MessageToDict(part.data)
                if isinstance(data, dict):
                    handed += sorted(data.get("context", {}).keys())
        headers = context.call_context.state.get("headers", {})
        with open(LOG, "a") as log:
            log.write(json.dumps({
                "agent": NAME,
                "traceparent": headers.get("traceparent"),
                "authorization": headers.get("authorization"),
                "a2a_version": headers.get("a2a-version"),
                "text": text,
                "context_keys": handed,
                "context_id": context.context_id,
            }) + "\n")
        answer = f"remote {NAME} got: {text}"
        if handed:
            answer += f" (context: {', '.join(handed)})"
        await updater.add_artifact([new_text_part(answer)], name="answer")
        await updater.complete()

    async def cancel(self, context: RequestContext, event_queue: EventQueue) -> None:
        updater = TaskUpdater(event_queue, context.task_id, context.context_id)
        await updater.cancel()


card = AgentCard(
    name=NAME,
    description=f"A remote agent ({NAME}) built with the A2A Python SDK.",
    version="1.0.0",
    supported_interfaces=[
        AgentInterface(url=f"http://127.0.0.1:{PORT}/", protocol_binding="JSONRPC", protocol_version="1.0"),
    ],
    capabilities=AgentCapabilities(streaming=True),
    default_input_modes=["text/plain"],
    default_output_modes=["text/plain"],
    skills=[AgentSkill(id="echo", name="echo", description="Echoes the message", tags=["test"])],
)
handler = DefaultRequestHandler(agent_executor=Remote(), task_store=InMemoryTaskStore(), agent_card=card)
app = Starlette(routes=[*create_agent_card_routes(card), *create_jsonrpc_routes(handler, "/")])

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=PORT, log_level="warning")
