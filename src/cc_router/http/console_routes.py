"""The supervisor console: the page at `/console` and the reads only it needs.

GET /console                 the page: the wallboard with a login and an action for every row
GET /api/console/config      who is logged in; queues (priority, steps), skills, pause reasons
GET /api/audit               supervisor actions, newest first (`limit`, `action`, `target_kind`,
                             `target`, `user`, `since` epoch seconds); supervisors and admins
GET /api/reports/queues|agents?date=YYYY-MM-DD&format=json|csv
                             the day's 15-minute rows in the centre's time zone (default today)
GET /api/recordings          recorded calls of the queues in the reader's scope, newest first
GET /api/recordings/{iid}    the recording (audio/wav), with range requests; `?token=` for
                             an <audio> element, which cannot send headers

The console's actions are the control API's own routes (`http/actions.py`), which record
each change in the audit table; nothing here changes routing state.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from cc_router.accounts.access import refusal
from cc_router.accounts.roles import Principal, Role
from cc_router.console.audit import MAX_LIST, AuditAction, AuditEntry, AuditLog, AuditQuery, TargetKind
from cc_router.console.day_report import AGENT_COLUMNS, QUEUE_COLUMNS, agent_day, queue_day, to_csv
from cc_router.console.targets import steps_json
from cc_router.http.auth import authenticate, forbidden
from cc_router.service import Service
from cc_router.store.tables import InteractionRow

PAGE = Path(__file__).parent / "static" / "console" / "index.html"
SUPERVISING = frozenset({Role.ADMIN, Role.SUPERVISOR})


class ConsoleRefused(Exception):
    def __init__(self, response: JSONResponse) -> None:
        super().__init__(bytes(response.body).decode())
        self.response = response


def supervisor(request: Request, service: Service, *, allow_query: bool = False) -> Principal:
    """The supervisor or admin asking, else `ConsoleRefused` with the 401/403 to send."""
    p = authenticate(request, service, allow_query=allow_query)
    if isinstance(p, JSONResponse):
        raise ConsoleRefused(p)
    if p.role not in SUPERVISING:
        raise ConsoleRefused(forbidden(f"{p.user} ({p.role.value}) may not use the supervisor console"))
    return p


def _query(request: Request) -> AuditQuery:
    q = request.query_params
    raw_limit = q.get("limit", "100")
    if not raw_limit.isdigit() or not 0 < int(raw_limit) <= MAX_LIST:
        raise ValueError(f"limit must be a whole number from 1 to {MAX_LIST}")
    since = q.get("since")
    try:
        since_f = None if since is None else float(since)
    except ValueError:
        raise ValueError("since must be epoch seconds") from None
    return AuditQuery(
        limit=int(raw_limit),
        action=q.get("action") or None,
        target_kind=q.get("target_kind") or None,
        target=q.get("target") or None,
        user=q.get("user") or None,
        since=since_f,
    )


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body, ensure_ascii=False), status_code=status, media_type="application/json")


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True


def routes(audit: AuditLog, engine: AsyncEngine) -> list[BaseRoute]:
    async def page(request: Request) -> Response:
        return FileResponse(PAGE, headers={"Cache-Control": "no-cache"})

    async def audit_list(request: Request) -> Response:
        service: Service = request.app.state.ctx.service
        try:
            supervisor(request, service)
            query = _query(request)
        except ConsoleRefused as e:
            return e.response
        except ValueError as e:
            return JSONResponse({"error": str(e)}, status_code=400)
        rows = await audit.rows(query)
        body = json.dumps({"audit": rows}, ensure_ascii=False, separators=(",", ":"))
        return Response(body, media_type="application/json")

    async def console_config(request: Request) -> Response:
        service: Service = request.app.state.ctx.service
        try:
            p = supervisor(request, service)
        except ConsoleRefused as e:
            return e.response
        centre = service.router.centre
        queues = []
        for name in service.router.queues:
            spec = centre.queue(name)
            if spec is None:
                continue
            queues.append(
                {
                    "name": name,
                    "channel": str(spec.channel),
                    "priority": spec.priority,
                    "steps": steps_json(spec),
                    "may_act": p.may_act_on_queue(name),
                }
            )
        body = {
            "user": p.user,
            "role": p.role.value,
            "scope": {"queues": sorted(p.queues), "pools": sorted(p.pools)},
            "centre": service.config.centre.name,
            "timezone": service.config.centre.timezone,
            "queues": queues,
            "skills": sorted(centre.skills),
            "pause_reasons": [{"code": r.code, "label": r.label} for r in service.config.pause_reasons],
        }
        return _json(body)

    async def report(request: Request) -> Response:
        service: Service = request.app.state.ctx.service
        try:
            p = supervisor(request, service, allow_query=True)
        except ConsoleRefused as e:
            return e.response
        kind = str(request.path_params["kind"])
        if kind not in ("queues", "agents"):
            return _json({"error": "reports are queues or agents"}, 404)
        tz = service.config.centre.tz
        raw = request.query_params.get("date")
        try:
            day = date.fromisoformat(raw) if raw else datetime.now(tz).date()
        except ValueError:
            return _json({"error": "date must be YYYY-MM-DD"}, 400)
        fmt = request.query_params.get("format", "json")
        if fmt not in ("json", "csv"):
            return _json({"error": "format must be json or csv"}, 400)
        columns: tuple[str, ...]
        if kind == "queues":
            queues = None if p.role is Role.ADMIN or p.unscoped else p.queues
            rows, columns = await queue_day(engine, day, tz, queues), QUEUE_COLUMNS
        else:
            agents = None
            if p.role is not Role.ADMIN and not p.unscoped:
                agents = {a for a in service.router.agents if refusal(service, p, agent_id=a) is None}
            rows, columns = await agent_day(engine, day, tz, agents), AGENT_COLUMNS
        if fmt == "csv":
            name = f"{kind}-{day.isoformat()}.csv"
            return Response(
                to_csv(rows, columns),
                media_type="text/csv; charset=utf-8",
                headers={"Content-Disposition": f'attachment; filename="{name}"'},
            )
        return _json({"date": day.isoformat(), "timezone": service.config.centre.timezone, "rows": rows})

    async def recordings(request: Request) -> Response:
        service: Service = request.app.state.ctx.service
        try:
            p = supervisor(request, service)
        except ConsoleRefused as e:
            return e.response
        raw = request.query_params.get("limit", "100")
        if not raw.isdigit() or not 0 < int(raw) <= MAX_LIST:
            return _json({"error": f"limit must be a whole number from 1 to {MAX_LIST}"}, 400)
        t = InteractionRow
        stmt = (
            select(
                t.interaction_id,
                t.queue,
                t.agent_id,
                t.caller,
                t.answered_at,
                t.recording_s,
                t.recording_bytes,
            )
            .where(t.recording_path.is_not(None))
            .order_by(t.id.desc())
            .limit(int(raw))
        )
        queue = request.query_params.get("queue")
        if queue:
            stmt = stmt.where(t.queue == queue)
        if p.role is not Role.ADMIN and not p.unscoped:
            stmt = stmt.where(t.queue.in_(sorted(p.queues)))
        async with engine.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        return _json(
            {
                "recordings": [
                    {
                        "interaction_id": r.interaction_id,
                        "queue": r.queue,
                        "agent_id": r.agent_id,
                        "caller": r.caller,
                        "answered_at": r.answered_at.timestamp() if r.answered_at else None,
                        "seconds": r.recording_s,
                        "bytes": r.recording_bytes,
                    }
                    for r in rows
                ]
            }
        )

    async def recording(request: Request) -> Response:
        service: Service = request.app.state.ctx.service
        try:
            p = supervisor(request, service, allow_query=True)
        except ConsoleRefused as e:
            return e.response
        iid = str(request.path_params["interaction_id"])
        t = InteractionRow
        stmt = (
            select(t.queue, t.recording_path)
            .where(t.interaction_id == iid, t.recording_path.is_not(None))
            .order_by(t.id.desc())
            .limit(1)
        )
        async with engine.connect() as conn:
            row = (await conn.execute(stmt)).first()
        if row is None:
            return _json({"error": f"no recording of interaction {iid!r}"}, 404)
        if not p.may_act_on_queue(row.queue):
            return forbidden(f"{p.user} ({p.role.value}) may not hear calls of queue {row.queue}")
        path = Path(row.recording_path)
        if not _inside(path, Path(service.config.recording.dir)) or not path.is_file():
            return _json({"error": f"the recording of interaction {iid!r} is no longer there"}, 410)
        if request.headers.get("range", "bytes=0-").startswith("bytes=0-"):
            # Once per playback, not for every range a player asks for while seeking.
            entry = AuditEntry(
                user=p.user,
                role=p.role.value,
                action=AuditAction.PLAYBACK,
                kind=TargetKind.INTERACTION,
                target=iid,
                before=None,
                after={"queue": row.queue},
                client=request.client.host if request.client else "?",
            )
            await audit.record(entry)
        return FileResponse(path, media_type="audio/wav", headers={"Cache-Control": "no-store"})

    return [
        Route("/api/reports/{kind}", report),
        Route("/api/recordings", recordings),
        Route("/api/recordings/{interaction_id}", recording),
        Route("/console", page),
        Route("/api/console/config", console_config),
        Route("/api/audit", audit_list),
    ]
