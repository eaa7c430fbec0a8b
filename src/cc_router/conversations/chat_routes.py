"""The customer side of web chat: the widget page and script, and its small API.

GET  /chat                    the chat page (what the embed script frames)
GET  /chat/widget.js          the embeddable script: <script src=".../chat/widget.js" data-topic="...">
GET  /chat/api/topics         topics the customer may choose
POST /chat/api/start          {topic, name?, text?} -> {conversation_id, token}
GET  /chat/api/conversation   transcript and state            (X-Chat-Token header)
POST /chat/api/messages       {text}                          (X-Chat-Token header)
POST /chat/api/leave          the customer ends the chat      (X-Chat-Token header)
POST /chat/api/typing         the customer is typing (shown to the agent, not stored)
GET  /chat/api/events?token=  live state and messages (server-sent events)

The customer's token (kept in the page's localStorage) is the only key to its
conversation; SQL holds its hash. Customer text is shown with textContent, never as HTML,
and every page goes out with a Content-Security-Policy that allows no inline script.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field
from sse_starlette.sse import EventSourceResponse
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from cc_router.conversations.http_common import body_model, error, errors_as_json
from cc_router.conversations.hub import ConversationHub
from cc_router.conversations.limits import RateLimiter
from cc_router.conversations.store import Conversation
from cc_router.omni.tasks import TaskError

STATIC = Path(__file__).parent / "static"
STATE_POLL_S = 2.0
TYPING_PER_MINUTE = 30
"""The page sends at most one typing notice per few seconds; more are dropped quietly."""
PING_S = 15.0


class StartChat(BaseModel):
    model_config = ConfigDict(extra="forbid")
    topic: Annotated[str, Field(min_length=1, max_length=64)]
    name: Annotated[str, Field(max_length=128)] = ""
    text: str = ""


class CustomerText(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str


def csp(frame_ancestors: list[str]) -> str:
    ancestors = " ".join(["'self'", *frame_ancestors])
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
        f"base-uri 'none'; form-action 'none'; frame-ancestors {ancestors}"
    )


def routes(hub: ConversationHub) -> list[Route]:
    chat = hub.settings.chat
    starts = RateLimiter(chat.starts_per_minute)
    says = RateLimiter(chat.messages_per_minute)
    typing_limit = RateLimiter(TYPING_PER_MINUTE)
    pages: dict[str, int] = {}
    page_headers = {
        "Content-Security-Policy": csp(chat.allowed_origins),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-cache",
    }

    def text_ok(text: str) -> str:
        text = text.strip()
        if not text:
            raise TaskError(422, "the message is empty")
        if len(text) > chat.max_message_chars:
            raise TaskError(413, f"the message is longer than {chat.max_message_chars} characters")
        return text

    def limited(limiter: RateLimiter, key: str, what: str) -> None:
        wait = limiter.allow(key)
        if wait is not None:
            raise TaskError(429, f"too many {what}; try again in {max(1, round(wait))} s")

    async def customer(request: Request, token: str | None = None) -> Conversation:
        token = token or request.headers.get("x-chat-token", "")
        conv = await hub.chat_by_token(token) if token else None
        if conv is None or conv.channel != "chat":
            raise TaskError(401, "unknown or missing chat token (X-Chat-Token)")
        return conv

    async def page(request: Request) -> Response:
        return FileResponse(STATIC / "chat.html", headers=page_headers)

    async def asset(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in ("widget.js", "chat.js", "chat.css"):
            return error(404, "no such file")
        kind = "text/css" if name.endswith(".css") else "text/javascript"
        headers = dict(page_headers)
        if name == "widget.js":
            # Loaded by the customer's web site, not by our page.
            headers["Cross-Origin-Resource-Policy"] = "cross-origin"
        return FileResponse(STATIC / name, media_type=kind, headers=headers)

    async def topics(request: Request) -> Response:
        return JSONResponse({"topics": [{"name": t.name, "label": t.label or t.name} for t in chat.topics]})

    async def start(request: Request) -> Response:
        body = await body_model(request, StartChat, max_body=chat.max_message_chars * 4 + 1024)
        limited(starts, request.client.host if request.client else "?", "new chats from this address")
        text = body.text.strip()
        if text:
            text = text_ok(text)
        conv, token = await hub.start_chat(body.topic, body.name.strip(), text)
        return JSONResponse(
            {"conversation_id": conv.id, "token": token, **hub.state(conv.task_id)}, status_code=201
        )

    async def transcript(request: Request) -> Response:
        conv = await customer(request)
        return JSONResponse(await _hello(hub, conv))

    async def say(request: Request) -> Response:
        conv = await customer(request)
        body = await body_model(request, CustomerText, max_body=chat.max_message_chars * 4 + 1024)
        text = text_ok(body.text)
        limited(says, conv.id, "messages")
        msg = await hub.customer_says(conv, text)
        return JSONResponse(msg.public(), status_code=201)

    async def typing(request: Request) -> Response:
        conv = await customer(request)
        if typing_limit.allow(conv.id) is None:
            hub.typing(conv, "customer")
        return JSONResponse({"ok": True})

    async def leave(request: Request) -> Response:
        conv = await customer(request)
        hub.customer_left(conv)
        return JSONResponse({"ok": True})

    async def events(request: Request) -> Response:
        conv = await customer(request, request.query_params.get("token", ""))

        async def stream() -> AsyncIterator[dict[str, str]]:
            pages[conv.id] = pages.get(conv.id, 0) + 1
            hub.page_opened(conv.id)
            try:
                with hub.feed.watch(conv.id) as q:
                    hello = await _hello(hub, conv)
                    yield _sse("hello", hello)
                    last = hello["state"]
                    idle = 0.0
                    while True:
                        # Place and expected wait move without an event: read them every
                        # STATE_POLL_S while waiting. Once connected every change comes as
                        # an event, and 2,000 chats would otherwise wake 1,000 times a second.
                        poll = STATE_POLL_S if last.get("status") in ("waiting", "offered") else PING_S
                        try:
                            async with asyncio.timeout(poll):
                                event = await q.get()
                        except TimeoutError:
                            state = hub.state(conv.task_id)
                            if state != last:
                                last = state
                                yield _sse("state", state)
                            idle += poll
                            if idle >= PING_S:
                                idle = 0.0
                                yield {"event": "ping", "data": "{}"}
                            continue
                        if event.get("type") == "state":
                            # The routing loop says what changed; the position is read now.
                            if event.get("status") not in ("ended", "customer_left"):
                                event = hub.state(conv.task_id)
                            last = event
                        yield _sse(str(event.get("type", "message")), event)
            finally:
                left = pages.get(conv.id, 1) - 1
                if left > 0:
                    pages[conv.id] = left
                else:
                    pages.pop(conv.id, None)
                hub.page_closed(conv, left)

        return EventSourceResponse(stream(), headers={"Cache-Control": "no-cache"})

    e = errors_as_json
    return [
        Route("/chat", page),
        Route("/chat/{name}", asset),
        Route("/chat/api/topics", e(topics)),
        Route("/chat/api/start", e(start), methods=["POST"]),
        Route("/chat/api/conversation", e(transcript)),
        Route("/chat/api/messages", e(say), methods=["POST"]),
        Route("/chat/api/leave", e(leave), methods=["POST"]),
        Route("/chat/api/typing", e(typing), methods=["POST"]),
        Route("/chat/api/events", e(events)),
    ]


async def _hello(hub: ConversationHub, conv: Conversation) -> dict[str, Any]:
    found, msgs = await hub.store.with_messages(conv.id)
    fresh = found or conv
    return {
        "conversation_id": conv.id,
        "topic": fresh.subject,
        "state": hub.state(fresh.task_id) if fresh.status == "open" else {"type": "state", "status": "ended"},
        "messages": [m.public() for m in msgs],
    }


def _sse(kind: str, data: Any) -> dict[str, str]:
    return {"event": kind, "data": json.dumps(data, ensure_ascii=False)}
