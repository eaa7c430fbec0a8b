"""The agent side of conversations (the desktop's API).

GET  /api/conversations/{id}                       conversation, messages, holder
GET  /api/tasks/{task_id}/conversation             the same, found by the routed task
POST /api/conversations/{id}/messages              {agent_id, text}: reply over the conversation's channel
GET  /api/conversations/{id}/stream                live messages and state (server-sent events)
GET  /api/conversations/{id}/attachments/{n}       an attachment, as a download

Reads: the agent holding the interaction, or a supervisor (`access.may_read`). Replies
need the control API token and come only from the agent holding the interaction.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field
from sse_starlette.sse import EventSourceResponse
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from cc_router.conversations.access import may_read, principal_of
from cc_router.conversations.http_common import body_model, errors_as_json
from cc_router.conversations.hub import ConversationHub
from cc_router.conversations.store import Conversation
from cc_router.http.auth import check_action
from cc_router.omni.tasks import TaskError

MAX_REPLY_CHARS = 100_000


class AgentReply(BaseModel):
    model_config = ConfigDict(extra="forbid")
    agent_id: Annotated[str, Field(min_length=1, max_length=128)]
    text: Annotated[str, Field(min_length=1, max_length=MAX_REPLY_CHARS)]


def routes(hub: ConversationHub) -> list[Route]:
    service = hub.service

    async def readable(request: Request, conv: Conversation | None, name: str) -> Conversation:
        who = principal_of(request, service)
        if who is None:
            raise TaskError(401, "conversations need the API token (bearer header or ?token=)")
        if conv is None:
            raise TaskError(404, f"no conversation {name!r}")
        if not may_read(who, hub.holder(conv)):
            raise TaskError(403, f"conversation {conv.id} is held by another agent")
        return conv

    async def show(conv: Conversation) -> Response:
        return JSONResponse(
            {
                **conv.public(),
                "holder": hub.holder(conv),
                "messages": [m.public() for m in await hub.store.messages(conv.id)],
            }
        )

    async def get_conv(request: Request) -> Response:
        cid = request.path_params["conv_id"]
        return await show(await readable(request, await hub.store.get(cid), cid))

    async def by_task(request: Request) -> Response:
        tid = request.path_params["task_id"]
        return await show(await readable(request, await hub.store.by_task(tid), tid))

    async def reply(request: Request) -> Response:
        refused = check_action(request, service)
        if refused is not None:
            return refused
        cid = request.path_params["conv_id"]
        conv = await hub.store.get(cid)
        if conv is None:
            raise TaskError(404, f"no conversation {cid!r}")
        body = await body_model(request, AgentReply, max_body=MAX_REPLY_CHARS * 4 + 1024)
        msg = await hub.agent_says(conv, body.agent_id, body.text)
        return JSONResponse(msg.public(), status_code=201)

    async def stream(request: Request) -> Response:
        cid = request.path_params["conv_id"]
        conv = await readable(request, await hub.store.get(cid), cid)

        async def events() -> AsyncIterator[dict[str, str]]:
            with hub.feed.watch(conv.id) as q:
                yield {"event": "state", "data": json.dumps(hub.state(conv.task_id))}
                while True:
                    try:
                        async with asyncio.timeout(15.0):
                            event = await q.get()
                    except TimeoutError:
                        yield {"event": "ping", "data": "{}"}
                        continue
                    yield {"event": str(event.get("type")), "data": json.dumps(event, ensure_ascii=False)}

        return EventSourceResponse(events())

    async def attachment(request: Request) -> Response:
        cid = request.path_params["conv_id"]
        conv = await readable(request, await hub.store.get(cid), cid)
        att = await hub.store.attachment(conv.id, int(request.path_params["n"]))
        if att is None:
            raise TaskError(404, "no such attachment")
        # Always a download: an HTML or SVG attachment must not run in our origin.
        return Response(
            att.data,
            media_type="application/octet-stream",
            headers={
                "Content-Disposition": f"attachment; filename*=UTF-8''{quote(att.filename)}",
                "X-Content-Type-Options": "nosniff",
                "X-Original-Content-Type": att.content_type,
            },
        )

    e = errors_as_json
    return [
        Route("/api/conversations/{conv_id}", e(get_conv)),
        Route("/api/tasks/{task_id}/conversation", e(by_task)),
        Route("/api/conversations/{conv_id}/messages", e(reply), methods=["POST"]),
        Route("/api/conversations/{conv_id}/stream", e(stream)),
        Route("/api/conversations/{conv_id}/attachments/{n:int}", e(attachment)),
    ]
