"""The agent side of conversations (the desktop's API).

GET  /api/conversations/{id}                       conversation, messages, holder
GET  /api/tasks/{task_id}/conversation             the same, found by the routed task
POST /api/conversations/{id}/messages              {text, agent_id?}: reply over the conversation's channel
GET  /api/conversations/{id}/stream                live messages and state (server-sent events)
POST /api/conversations/{id}/typing                {agent_id?}: the agent is typing (chat; not stored)
GET  /api/conversations/{id}/attachments/{n}       an attachment, as a download

Reads: the agent holding the interaction, or a supervisor within its scope, or an admin
(`access.may_read`); a viewer never. Replies come only from the agent holding the
interaction (an admin's token may post one naming that agent).
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

from cc_router.accounts.roles import Role
from cc_router.conversations.access import may_read, principal_of, replying_agent
from cc_router.conversations.http_common import body_model, errors_as_json
from cc_router.conversations.hub import ConversationHub
from cc_router.conversations.store import Conversation, Message
from cc_router.http.auth import not_leading
from cc_router.omni.tasks import TaskError

MAX_REPLY_CHARS = 100_000


class AgentReply(BaseModel):
    model_config = ConfigDict(extra="forbid")
    agent_id: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    text: Annotated[str, Field(min_length=1, max_length=MAX_REPLY_CHARS)]


class AgentTyping(BaseModel):
    model_config = ConfigDict(extra="forbid")
    agent_id: Annotated[str, Field(min_length=1, max_length=128)] | None = None


def routes(hub: ConversationHub) -> list[Route]:
    service = hub.service

    async def readable(request: Request, conv: Conversation | None, name: str) -> Conversation:
        who = principal_of(request, service)
        if conv is None:
            raise TaskError(404, f"no conversation {name!r}")
        if not may_read(service, who, conv.queue, hub.holder(conv)):
            raise TaskError(403, f"{who.user} ({who.role.value}) may not read conversation {conv.id}")
        return conv

    async def show(request: Request, found: tuple[Conversation | None, list[Message]], name: str) -> Response:
        # Read with its messages on one connection; nothing is shown before `readable`.
        conv = await readable(request, found[0], name)
        return JSONResponse(
            {**conv.public(), "holder": hub.holder(conv), "messages": [m.public() for m in found[1]]}
        )

    async def get_conv(request: Request) -> Response:
        cid = request.path_params["conv_id"]
        return await show(request, await hub.store.with_messages(cid), cid)

    async def by_task(request: Request) -> Response:
        tid = request.path_params["task_id"]
        return await show(request, await hub.store.task_with_messages(tid), tid)

    async def reply(request: Request) -> Response:
        who = principal_of(request, service)
        body = await body_model(request, AgentReply, max_body=MAX_REPLY_CHARS * 4 + 1024)
        agent = replying_agent(who, body.agent_id)
        standby = not_leading(service)
        if standby is not None:
            return standby
        cid = request.path_params["conv_id"]
        conv = await hub.conversation(cid)
        if conv is None:
            raise TaskError(404, f"no conversation {cid!r}")
        if who.role is not Role.ADMIN and hub.holder(conv) != agent:
            # Not 409: to this agent the conversation is not theirs to see at all.
            raise TaskError(403, f"conversation {conv.id} is not held by agent {agent}")
        msg = await hub.agent_says(conv, agent, body.text)
        return JSONResponse(msg.public(), status_code=201)

    async def typing(request: Request) -> Response:
        who = principal_of(request, service)
        body = await body_model(request, AgentTyping, max_body=1024)
        agent = replying_agent(who, body.agent_id)
        cid = request.path_params["conv_id"]
        conv = await hub.conversation(cid)
        if conv is None:
            raise TaskError(404, f"no conversation {cid!r}")
        if hub.holder(conv) != agent:
            raise TaskError(403, f"conversation {conv.id} is not held by agent {agent}")
        hub.typing(conv, agent)
        return JSONResponse({"ok": True})

    async def stream(request: Request) -> Response:
        cid = request.path_params["conv_id"]
        conv = await readable(request, await hub.conversation(cid), cid)
        who = principal_of(request, service)

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
                    if (
                        not may_read(service, who, conv.queue, hub.holder(conv))
                        and event.get("type") != "state"
                    ):
                        # The agent let go of it (ended, transferred): its page reads no more.
                        yield {"event": "state", "data": json.dumps({"type": "state", "status": "ended"})}
                        return
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
        Route("/api/conversations/{conv_id}/typing", e(typing), methods=["POST"]),
        Route("/api/conversations/{conv_id}/attachments/{n:int}", e(attachment)),
    ]
