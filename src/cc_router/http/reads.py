"""Read-only routes: live state as JSON, the SSE stream, metrics and health."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from cc_router.accounts.mask import hide_callers
from cc_router.accounts.roles import Principal
from cc_router.http.auth import read_principal
from cc_router.http.context import HttpContext
from cc_router.http.health import readiness
from cc_router.http.metrics import CONTENT_TYPE
from cc_router.live import AgentFilter, FilterError
from cc_router.live.view import DEFAULT_PAGE, MAX_PAGE


class UTF8JSONResponse(JSONResponse):
    """Chinese names as themselves, not as \\uXXXX escapes (starlette's default is the same
    with ensure_ascii=False; kept explicit because the wallboard depends on it)."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def check_read(request: Request, service: Any) -> Response | None:
    """None when the read may go ahead (the reader is kept for `_out`), else the 401."""
    p = read_principal(request, service)
    if isinstance(p, Response):
        return p
    request.state.reader = p
    return None


def _masked(request: Request, data: dict[str, Any]) -> dict[str, Any]:
    p = getattr(request.state, "reader", None)
    if isinstance(p, Principal) and p.hides_callers:
        masked: dict[str, Any] = hide_callers(data)
        return masked
    return data


def _out(request: Request, data: dict[str, Any], status_code: int = 200) -> UTF8JSONResponse:
    return UTF8JSONResponse(_masked(request, data), status_code=status_code)


def _ctx(request: Request) -> HttpContext:
    ctx: HttpContext = request.app.state.ctx
    return ctx


def _limit(request: Request, default: int | None = 500) -> int | None:
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
    return check_read(request, ctx.service) or _out(
        request, {**ctx.live.header(), "queues": ctx.live.queues(), "channels": ctx.live.channels()}
    )


def _named(
    request: Request, param: str, kind: str, read: Callable[[HttpContext, str], dict[str, Any] | None]
) -> Response:
    """One queue or agent by the name in the path: 404 when `read` finds none."""
    ctx = _ctx(request)
    denied = check_read(request, ctx.service)
    if denied is not None:
        return denied
    name = str(request.path_params[param])
    body = read(ctx, name)
    if body is None:
        return UTF8JSONResponse({"error": f"unknown {kind} {name!r}"}, status_code=404)
    return _out(request, body)


def _queue_with_waiting(ctx: HttpContext, name: str) -> dict[str, Any] | None:
    q = ctx.live.queue(name)
    return None if q is None else {**q, "interactions": ctx.live.waiting(None, queue=name)}


async def queue(request: Request) -> Response:
    return _named(request, "name", "queue", _queue_with_waiting)


async def channels(request: Request) -> Response:
    ctx = _ctx(request)
    return check_read(request, ctx.service) or UTF8JSONResponse(
        {**ctx.live.header(), "channels": ctx.live.channels()}
    )


def _agent_query(
    request: Request, ctx: HttpContext, default_limit: int | None
) -> tuple[AgentFilter, int | None, int]:
    """(filter, limit, offset) of an agents read; a bad one is answered 400 with the reason
    (by the app's HTTPException handler: `{"error": ...}`)."""
    try:
        f = AgentFilter.parse(request.query_params, ctx.service.router.queues, ctx.live.pools())
        limit, offset = _page_args(request, default_limit)
    except (FilterError, ValueError) as e:
        raise HTTPException(400, str(e)) from None
    return f, limit, offset


def _page_args(request: Request, default: int | None) -> tuple[int | None, int]:
    limit = _limit(request, default)
    if limit is not None and limit > MAX_PAGE and default is not None:
        raise ValueError(f"limit must be at most {MAX_PAGE} here")
    raw = request.query_params.get("offset", "0")
    if not raw.isdigit():
        raise ValueError("offset must be a whole number")
    return limit, int(raw)


async def agents(request: Request) -> Response:
    """Agents in attention order (paused and wrap-up first, longest in state first),
    filtered by queue / pool / channel / state / search, paged by limit / offset. Without
    `limit` every selected agent is listed (what `cc-router top` expects)."""
    ctx = _ctx(request)
    denied = check_read(request, ctx.service)
    if denied is not None:
        return denied
    f, limit, offset = _agent_query(request, ctx, None)
    return _out(request, {**ctx.live.header(), **ctx.live.agent_page(f, limit, offset)})


async def agent(request: Request) -> Response:
    return _named(request, "agent_id", "agent", lambda ctx, aid: ctx.live.agent(aid))


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
    return _out(request, {**ctx.live.header(), "interactions": ctx.live.waiting(limit, queue=q)})


def _sse(kind: str, data: dict[str, Any]) -> str:
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return f"event: {kind}\nid: {data['version']}\ndata: {body}\n\n"


async def stream(request: Request) -> Response:
    """Server-sent events: one `snapshot`, then an `update` per change (coalesced) and at
    least every few seconds (so interval roll-overs and ticking waits show).

    Agents: one page (`limit`, default 200) chosen by the same filters as `/api/agents`;
    the snapshot holds its rows, each update the page's ids in order and rows only for
    agents new to the page or changed since the last message."""
    ctx = _ctx(request)
    denied = check_read(request, ctx.service)
    if denied is not None:
        return denied
    f, limit, _ = _agent_query(request, ctx, DEFAULT_PAGE)
    page = DEFAULT_PAGE if limit is None else limit
    live = ctx.live
    gap = 1.0 / live.max_updates_per_s

    async def events() -> AsyncIterator[str]:
        snap = live.stream_snapshot(f, page)
        last, shown = snap["version"], snap["agent_page"]["ids"]
        yield "retry: 2000\n\n"
        yield _sse("snapshot", _masked(request, snap))
        timeout = gap if snap["figures_version"] < last else ctx.sse_heartbeat_s
        while True:
            await live.wait_change(last, timeout=timeout)
            data = live.stream_update(last, shown, f, page)
            last, shown = data["version"], data["agent_page"]["ids"]
            yield _sse("update", _masked(request, data))
            # Figures shared with other subscribers may trail by one interval: if so, the
            # next update follows soon even when the floor goes quiet.
            timeout = gap if data["figures_version"] < last else ctx.sse_heartbeat_s
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
    service = _ctx(request).service
    ready, checks = readiness(service)
    body: dict[str, Any] = {"ready": ready, "checks": checks}
    lead = service.parts.leadership
    if lead is not None:
        body["role"] = lead.role
        body["leader"] = lead.leader_address or None
    return JSONResponse(body, status_code=200 if ready else 503)
