"""Read-only routes: live state as JSON, the SSE stream, metrics and health."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from cc_router.http.auth import check_read
from cc_router.http.context import HttpContext
from cc_router.http.health import readiness
from cc_router.http.metrics import CONTENT_TYPE


class UTF8JSONResponse(JSONResponse):
    """Chinese names as themselves, not as \\uXXXX escapes (starlette's default is the same
    with ensure_ascii=False; kept explicit because the wallboard depends on it)."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _ctx(request: Request) -> HttpContext:
    ctx: HttpContext = request.app.state.ctx
    return ctx


def _limit(request: Request, default: int = 500) -> int | None:
    raw = request.query_params.get("limit")
    if raw is None:
        return default
    if raw in ("0", "all"):
        return None
    if not raw.isdigit():
        raise ValueError("limit must be a whole number, or 'all'")
    return int(raw)


async def queues(request: Request) -> Response:
    ctx = _ctx(request)
    return check_read(request, ctx.service) or UTF8JSONResponse(
        {**ctx.live.header(), "queues": ctx.live.queues(), "channels": ctx.live.channels()}
    )


async def queue(request: Request) -> Response:
    ctx = _ctx(request)
    denied = check_read(request, ctx.service)
    if denied is not None:
        return denied
    name = str(request.path_params["name"])
    q = ctx.live.queue(name)
    if q is None:
        return UTF8JSONResponse({"error": f"unknown queue {name!r}"}, status_code=404)
    return UTF8JSONResponse({**q, "interactions": ctx.live.waiting(None, queue=name)})


async def agents(request: Request) -> Response:
    ctx = _ctx(request)
    logged_out = request.query_params.get("logged_out", "true").lower() not in ("0", "false", "no")
    return check_read(request, ctx.service) or UTF8JSONResponse(
        {**ctx.live.header(), "agents": ctx.live.agents(include_logged_out=logged_out)}
    )


async def agent(request: Request) -> Response:
    ctx = _ctx(request)
    denied = check_read(request, ctx.service)
    if denied is not None:
        return denied
    aid = str(request.path_params["agent_id"])
    a = ctx.live.agent(aid)
    if a is None:
        return UTF8JSONResponse({"error": f"unknown agent {aid!r}"}, status_code=404)
    return UTF8JSONResponse(a)


async def interactions(request: Request) -> Response:
    ctx = _ctx(request)
    denied = check_read(request, ctx.service)
    if denied is not None:
        return denied
    try:
        limit = _limit(request)
    except ValueError as e:
        return UTF8JSONResponse({"error": str(e)}, status_code=400)
    q = request.query_params.get("queue")
    return UTF8JSONResponse({**ctx.live.header(), "interactions": ctx.live.waiting(limit, queue=q)})


def _sse(kind: str, data: dict[str, Any]) -> str:
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return f"event: {kind}\nid: {data['version']}\ndata: {body}\n\n"


async def stream(request: Request) -> Response:
    """Server-sent events: one `snapshot`, then an `update` per change (coalesced) and at
    least every few seconds (so interval roll-overs and ticking waits show)."""
    ctx = _ctx(request)
    denied = check_read(request, ctx.service)
    if denied is not None:
        return denied
    live = ctx.live
    gap = 1.0 / live.max_updates_per_s

    async def events() -> AsyncIterator[str]:
        snap = live.snapshot()
        last = snap["version"]
        yield "retry: 2000\n\n"
        yield _sse("snapshot", snap)
        while True:
            await live.wait_change(last, timeout=ctx.sse_heartbeat_s)
            data = live.update(last)
            last = data["version"]
            yield _sse("update", data)
            await asyncio.sleep(gap)

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def metrics(request: Request) -> Response:
    ctx = _ctx(request)
    return check_read(request, ctx.service) or Response(ctx.metrics.exposition(), media_type=CONTENT_TYPE)


async def livez(request: Request) -> Response:
    return JSONResponse({"status": "alive"})


async def readyz(request: Request) -> Response:
    ready, checks = readiness(_ctx(request).service)
    return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)
