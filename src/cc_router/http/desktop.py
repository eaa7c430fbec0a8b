"""The agent desktop: the page at `/agent` and the routes it uses.

GET  /agent                          the page (static HTML/JS/CSS, no build step)
GET  /api/desktop/stream?token=      server-sent events: `desk` with the whole picture on
                                     every change of this agent (offer, state, work, wrap-up)
GET  /api/desktop/config             pause reasons and the user
POST /api/desktop/login|logout       the agent's presence
POST /api/desktop/ready              unpause, log in, or end wrap-up early
POST /api/desktop/pause              {"code"}: one of `pause_reasons` (free text when none)
POST /api/desktop/offers/{id}/accept|reject   chat, e-mail, SMS, fax (voice rings the phone)
POST /api/desktop/tasks/{id}/complete         {"code"?}: end a task with a disposition
POST /api/desktop/disposition        {"code", "interaction_id"?}: during wrap-up
GET  /api/pauses/overdue             supervisors: agents paused past their reason's maximum

An agent's login acts on its own agent; a supervisor or admin names one with `?agent=` or
`"agent_id"` in the body and is checked against its scope.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import structlog
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from cc_router.accounts.access import refusal, resolve
from cc_router.accounts.roles import Principal, Role
from cc_router.config.desk import OnPauseMax
from cc_router.core import commands as cmd
from cc_router.core import events as ev
from cc_router.core.records import Presence
from cc_router.desk.dispositions import Disposition, DispositionWriter
from cc_router.desk.hub import DesktopHub
from cc_router.http.auth import authenticate, not_leading, presented_token
from cc_router.service import Service

log = structlog.get_logger("cc_router.desk")
PAGE = Path(__file__).parent / "static" / "agent" / "index.html"
MAX_BODY = 16_384
HEARTBEAT_S = 15.0
MIN_GAP_S = 0.05
"""Changes closer together than this reach a page as one message."""


class DeskError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _json(data: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(data, status_code=status)


class Desktop:
    def __init__(
        self, service: Service, hub: DesktopHub, writer: DispositionWriter, intake: Any = None
    ) -> None:
        self.service = service
        self.hub = hub
        self.writer = writer
        self.intake = intake
        """The omnichannel `TaskIntake`, when tasks are enabled."""

    # ------------------------------------------------------------ who and for whom

    def _who(self, request: Request, allow_query: bool = False) -> Principal:
        p = authenticate(request, self.service, allow_query=allow_query)
        if isinstance(p, JSONResponse):
            raise DeskError(p.status_code, str(json.loads(bytes(p.body))["error"]))
        return p

    def _actor(self, request: Request) -> Principal:
        """Who asks for a change: as `_who`, then 503 while this router does not route."""
        p = self._who(request)
        standby = not_leading(self.service)
        if standby is not None:
            raise DeskError(standby.status_code, str(json.loads(bytes(standby.body))["error"]))
        return p

    async def _stored(self) -> None:
        if not await self.service.stored():
            raise DeskError(503, "the change is applied but not yet stored: the store is unavailable")

    def _agent(self, request: Request, p: Principal, body: dict[str, Any] | None = None) -> str:
        aid = p.agent_id if p.role is Role.AGENT else None
        asked = request.query_params.get("agent") or (body or {}).get("agent_id")
        if asked is not None and aid is not None and asked != aid:
            raise DeskError(403, f"{p.user} may not act on agent {asked}")
        aid = aid or (str(asked) if asked else None)
        if aid is None:
            raise DeskError(400, "name the agent: ?agent=ID or agent_id in the body")
        if aid not in self.service.router.agents:
            raise DeskError(404, f"unknown agent {aid!r} (check the user's agent id)")
        why = refusal(self.service, p, agent_id=aid)
        if why is not None:
            raise DeskError(403, why)
        return aid

    async def _body(self, request: Request) -> dict[str, Any]:
        raw = await request.body()
        if len(raw) > MAX_BODY:
            raise DeskError(413, f"body larger than {MAX_BODY} bytes")
        try:
            data = json.loads(raw) if raw.strip() else {}
        except (ValueError, UnicodeDecodeError) as e:
            raise DeskError(400, f"body is not JSON: {e}") from None
        if not isinstance(data, dict):
            raise DeskError(400, "body must be a JSON object")
        return data

    def _submit(self, event: ev.Event) -> None:
        for c in self.service.submit(event):
            if isinstance(c, cmd.EventRejected) and c.event is event:
                raise DeskError(409, c.reason)

    def _picture(self, aid: str) -> dict[str, Any]:
        live = self.service.parts.live
        agent = live.agent(aid) if live is not None else None
        return self.hub.picture(aid, agent)

    # ------------------------------------------------------------ routes

    async def page(self, request: Request) -> Response:
        return FileResponse(PAGE, headers={"Cache-Control": "no-cache"})

    async def config(self, request: Request) -> Response:
        p = self._who(request)
        aid = self._agent(request, p)
        a = self.service.router.agents[aid]
        return _json(
            {
                "user": p.user,
                "role": p.role.value,
                "agent_id": aid,
                "agent_name": a.spec.name,
                "centre": self.service.config.centre.name,
                "dispositions": {q: self.hub.codes_for(q) for q in self.service.config.dispositions},
                "pause_reasons": [
                    {"code": r.code, "label": r.label, "max_s": r.max_s, "on_max": r.on_max.value}
                    for r in self.service.config.pause_reasons
                ],
            }
        )

    async def stream(self, request: Request) -> Response:
        p = self._who(request, allow_query=True)
        aid = self._agent(request, p)
        hub = self.hub
        token = presented_token(request, allow_query=True) or ""

        async def events() -> AsyncIterator[str]:
            yield "retry: 1000\n\n"
            with hub.watch(aid) as changed:
                while True:
                    changed.clear()
                    data = self._picture(aid)
                    sent = data["sent_at"] = time.time()
                    yield f"event: desk\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"
                    try:
                        # Spread: desktops opened together (a shift starting, a restart)
                        # must not all be due in the same instant.
                        async with asyncio.timeout(HEARTBEAT_S * random.uniform(0.8, 1.2)):
                            await changed.wait()
                    except TimeoutError:
                        pass
                    # A change after a quiet spell goes out at once; one soon after the last
                    # message waits out the gap, so a burst (offer, state change, task
                    # details) reaches the page as one message.
                    gap = MIN_GAP_S - (time.time() - sent)
                    if gap > 0:
                        await asyncio.sleep(gap)
                    if resolve(self.service, token) is None:
                        yield 'event: logout\ndata: {"reason": "session ended"}\n\n'
                        return

        return StreamingResponse(
            events(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    async def presence(self, request: Request) -> Response:
        p = self._actor(request)
        body = await self._body(request)
        aid = self._agent(request, p, body)
        verb = request.path_params["verb"]
        a = self.service.router.agents[aid]
        if verb == "login":
            self._submit(ev.AgentLoggedIn(aid))
        elif verb == "logout":
            self._submit(ev.AgentLoggedOut(aid))
        elif verb == "ready":
            if a.presence is Presence.PAUSED:
                self._submit(ev.AgentUnpaused(aid))
            elif a.presence is Presence.LOGGED_OUT:
                self._submit(ev.AgentLoggedIn(aid))
            elif a.wrapping:
                missing = [
                    w.interaction_id
                    for w in self.hub.wrapups.get(aid, {}).values()
                    if not w.code and self.hub.codes_for(w.queue)["required"]
                ]
                if missing:
                    raise DeskError(409, f"choose a disposition first (required for {', '.join(missing)})")
                self._submit(ev.AgentWrapUpDone(aid))
        elif verb == "pause":
            code = str(body.get("code") or body.get("reason") or "").strip()
            reasons = self.service.config.pause_reasons
            spec = next((r for r in reasons if r.code == code), None)
            if reasons and spec is None:
                raise DeskError(
                    422, f"unknown pause reason {code!r}: one of {', '.join(r.code for r in reasons)}"
                )
            if not code or len(code) > 64:
                raise DeskError(422, "a pause needs a reason (1-64 characters)")
            # "ready" reasons end in the core (it unpauses at max_s); "flag" ones stay paused.
            max_s = spec.max_s if spec is not None and spec.on_max is OnPauseMax.READY else None
            self._submit(ev.AgentPaused(aid, code, max_s))
        else:
            raise DeskError(404, f"no such action {verb!r}")
        await self._stored()
        log.info("desktop_action", action=verb, agent_id=aid, user=p.user)
        return _json({"ok": True, **self._picture(aid)})

    async def offer(self, request: Request) -> Response:
        p = self._actor(request)
        body = await self._body(request)
        aid = self._agent(request, p, body)
        iid, verb = request.path_params["interaction_id"], request.path_params["verb"]
        intake = self._intake()
        offer = self.hub.offers.get(aid)
        if offer is None or offer["interaction_id"] != iid:
            raise DeskError(409, f"no offer of {iid!r} in front of agent {aid}")
        if offer["channel"] == "voice":
            raise DeskError(409, "a call is answered on the phone")
        try:
            if verb == "accept":
                intake.accept(iid, aid)
            elif verb == "reject":
                intake.reject(iid, aid)
            else:
                raise DeskError(404, f"no such action {verb!r}")
        except DeskError:
            raise
        except Exception as e:  # TaskError: status and message for the page
            raise DeskError(getattr(e, "status", 409), getattr(e, "message", str(e))) from None
        return _json({"ok": True, **self._picture(aid)})

    async def complete(self, request: Request) -> Response:
        p = self._actor(request)
        body = await self._body(request)
        aid = self._agent(request, p, body)
        iid = request.path_params["interaction_id"]
        it = self.service.router.interactions.get(iid)
        queue = it.queue.name if it is not None else ""
        code = self._code(queue, body.get("code"))
        try:
            self._intake().complete(iid, aid, code)
        except Exception as e:
            raise DeskError(getattr(e, "status", 409), getattr(e, "message", str(e))) from None
        if code:
            w = self.hub.wrapup_of(aid, iid)
            if w is not None:
                w.code = code  # given on completion: wrap-up needs no second choice
            self._record(aid, iid, queue, code)
            self.hub.wake(aid)
        return _json({"ok": True, **self._picture(aid)})

    async def disposition(self, request: Request) -> Response:
        p = self._actor(request)
        body = await self._body(request)
        aid = self._agent(request, p, body)
        iid = body.get("interaction_id")
        w = self.hub.wrapup_of(aid, str(iid) if iid is not None else None)
        if w is None:
            raise DeskError(409, "nothing to give a disposition for")
        code = self._code(w.queue, body.get("code"))
        if not code:
            raise DeskError(422, "code is required")
        w.code = code
        self._record(aid, w.interaction_id, w.queue, code)
        self.hub.wake(aid)
        return _json({"ok": True, **self._picture(aid)})

    async def overdue(self, request: Request) -> Response:
        p = self._who(request, allow_query=True)
        if p.role not in (Role.ADMIN, Role.SUPERVISOR):
            raise DeskError(403, f"{p.user} ({p.role.value}) may not see other agents' pauses")
        rows = [
            r for r in self.hub.overdue() if refusal(self.service, p, agent_id=str(r["agent_id"])) is None
        ]
        return _json({"agents": rows})

    # ------------------------------------------------------------ helpers

    def _code(self, queue: str, raw: object) -> str:
        code = str(raw or "").strip()
        codes = self.service.config.dispositions.get(queue)
        refused = codes.refusal(code, queue) if codes is not None else None
        if refused is not None:
            raise DeskError(422, refused)
        if len(code) > 64:
            raise DeskError(422, "a disposition code has at most 64 characters")
        return code

    def _record(self, aid: str, iid: str, queue: str, code: str) -> None:
        now = self.service.clock()
        self.hub.days.disposition(aid, code, now)
        self.writer.record(Disposition(iid, aid, queue, code, now))
        log.info("disposition", agent_id=aid, interaction_id=iid, queue=queue, code=code)

    def _intake(self) -> Any:
        intake = self.intake
        if intake is None:
            raise DeskError(409, "tasks are not enabled on this server")
        return intake


def routes(desk: Desktop) -> list[Route]:
    def guarded(
        handler: Callable[[Request], Awaitable[Response]],
    ) -> Callable[[Request], Awaitable[Response]]:
        async def wrapped(request: Request) -> Response:
            try:
                return await handler(request)
            except DeskError as e:
                return _json({"error": e.message}, e.status)

        return wrapped

    return [
        Route("/agent", desk.page),
        Route("/api/desktop/config", guarded(desk.config)),
        Route("/api/desktop/stream", guarded(desk.stream)),
        Route("/api/desktop/disposition", guarded(desk.disposition), methods=["POST"]),
        Route("/api/desktop/offers/{interaction_id}/{verb}", guarded(desk.offer), methods=["POST"]),
        Route("/api/desktop/tasks/{interaction_id}/complete", guarded(desk.complete), methods=["POST"]),
        Route("/api/desktop/{verb}", guarded(desk.presence), methods=["POST"]),
        Route("/api/pauses/overdue", guarded(desk.overdue)),
    ]
