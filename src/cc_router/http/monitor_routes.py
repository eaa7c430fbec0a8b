"""Listen, whisper, barge from the console (see `cc_router.console.monitor`).

POST   /api/agents/{id}/monitor   {"mode": "listen"|"whisper"|"barge"}: ring the supervisor's
                                  phone and join it to the agent's call; again with another
                                  mode switches without hanging up
DELETE /api/agents/{id}/monitor   hang the supervisor's leg up
GET    /api/monitors              monitors in progress (the console shows them on the agents)

A supervisor may monitor agents within its scope; admins any. Each start, switch and stop
(and an end by hang-up) is in the audit table.
"""

from __future__ import annotations

from dataclasses import replace

from pydantic import BaseModel, ConfigDict
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from cc_router.accounts.access import refusal
from cc_router.console.audit import AuditAction, AuditEntry, AuditLog, TargetKind
from cc_router.console.monitor import Monitor, MonitorError, MonitorMode, Monitors
from cc_router.http.actions import HttpError, parse_body
from cc_router.http.auth import forbidden, not_leading
from cc_router.http.console_routes import ConsoleRefused, supervisor
from cc_router.service import Service


class MonitorBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: MonitorMode = MonitorMode.LISTEN


def _state(m: Monitor | None) -> dict[str, str | None]:
    return {"mode": None if m is None else m.mode.value, "user": None if m is None else m.user}


def routes(monitors: Monitors, audit: AuditLog) -> list[BaseRoute]:
    async def record(
        request: Request | None,
        user: str,
        role: str,
        action: AuditAction,
        aid: str,
        before: Monitor | None,
        after: Monitor | None,
        reason: str | None = None,
    ) -> None:
        client = request.client.host if request is not None and request.client else ""
        b, a = _state(before), _state(after)
        await audit.record(AuditEntry(user, role, action, TargetKind.AGENT, aid, b, a, reason, client))

    async def ended(m: Monitor, why: str) -> None:
        await record(None, m.user, "supervisor", AuditAction.MONITOR_END, m.agent_id, m, None, why)

    monitors.on_end.append(ended)

    async def monitor(request: Request) -> Response:
        service: Service = request.app.state.ctx.service
        aid = str(request.path_params["agent_id"])
        try:
            p = supervisor(request, service)
        except ConsoleRefused as e:
            return e.response
        if aid not in service.router.agents:
            return JSONResponse({"error": f"unknown agent {aid!r}"}, status_code=404)
        why = refusal(service, p, agent_id=aid)
        if why is not None:
            return forbidden(why)
        denied = not_leading(service)
        if denied is not None:
            return denied
        before = monitors.active.get(aid)
        before_copy = None if before is None else replace(before)
        try:
            if request.method == "DELETE":
                m = await monitors.stop(aid)
                await record(request, p.user, p.role.value, AuditAction.MONITOR_END, aid, m, None, "stopped")
                return JSONResponse({"ok": True, "monitor": None})
            body = await parse_body(request, MonitorBody, empty_ok=True)
            m = await monitors.start(aid, p.user, body.mode)
        except MonitorError as e:
            return JSONResponse({"error": e.message}, status_code=e.status)
        except HttpError as e:
            return JSONResponse(e.body, status_code=e.status)
        action = AuditAction.LISTEN if before_copy is None else AuditAction.MONITOR_MODE
        if before_copy is None or before_copy.mode is not m.mode:
            await record(request, p.user, p.role.value, action, aid, before_copy, m)
        return JSONResponse({"ok": True, "monitor": m.public()})

    async def listing(request: Request) -> Response:
        service: Service = request.app.state.ctx.service
        try:
            supervisor(request, service)
        except ConsoleRefused as e:
            return e.response
        return JSONResponse({"monitors": monitors.public()})

    return [
        Route("/api/agents/{agent_id}/monitor", monitor, methods=["POST", "DELETE"]),
        Route("/api/monitors", listing),
    ]
