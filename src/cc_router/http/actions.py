"""Supervisor actions: each becomes one core event through `service.submit`.

Checks that need the HTTP request (token, body shape, does the agent exist) are done
here; everything about routing state is the core's to decide, and its `EventRejected`
comes back as 409 with the core's reason.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import structlog
from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse

from cc_router.accounts.roles import Role
from cc_router.config import Config, ConfigError, load_config, summary
from cc_router.console.audit import AuditAction, TargetKind
from cc_router.core import commands as cmd
from cc_router.core import events as ev
from cc_router.core import expr
from cc_router.core.spec import StepSpec
from cc_router.http.audit_hook import audited
from cc_router.http.auth import authenticate, authorise, check_action, forbidden, not_leading
from cc_router.http.bodies import MoveBody, PauseBody, PriorityBody, QueuePatch, ReasonBody, SkillsBody
from cc_router.http.context import HttpContext

log = structlog.get_logger("cc_router.http")

B = TypeVar("B", bound=BaseModel)
RESTART_SECTIONS = ("store", "http", "mqtt", "logging")
"""Sections a reload records but only a restart applies (their adapters hold them)."""


def nodes_changed(old: Config, new: Config) -> bool:
    """A node kept under its name but with other settings (host, port, secret...): a reload
    adds and drains nodes (adapters/ami/fleet.py), it does not reconnect a kept one."""
    before = {n.name: n for n in old.asterisk}
    return any(n.name in before and before[n.name] != n for n in new.asterisk)


class HttpError(Exception):
    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.body = {"error": message, **extra}


async def parse_body(request: Request, model: type[B], empty_ok: bool = False) -> B:
    raw = await request.body()
    if not raw.strip():
        if empty_ok:
            return model.model_validate({})
        raise HttpError(400, "a JSON body is required")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise HttpError(400, f"body is not valid JSON: {e}") from None
    try:
        return model.model_validate(data)
    except ValidationError as e:
        details = [
            {"field": ".".join(str(p) for p in d["loc"]) or "(body)", "message": d["msg"]}
            for d in e.errors(include_url=False, include_input=False, include_context=False)
        ]
        raise HttpError(422, "invalid body", details=details) from None


def _submit(ctx: HttpContext, event: ev.Event) -> list[cmd.Command]:
    out = ctx.service.submit(event)
    rejected = cmd.rejection(out, event)
    if rejected is not None:
        raise HttpError(409, rejected.reason)
    return out


async def _stored(ctx: HttpContext) -> None:
    """A change is acknowledged only once it is in the store (it survives a restart)."""
    if not await ctx.service.stored():
        raise HttpError(503, "the change is applied but not yet stored: the store is unavailable")


def _agent_id(ctx: HttpContext, request: Request) -> str:
    aid = str(request.path_params["agent_id"])
    if aid not in ctx.service.router.agents:
        raise HttpError(404, f"unknown agent {aid!r}")
    return aid


def _path(request: Request, name: str) -> str:
    return str(request.path_params[name])


def _log_action(request: Request, action: str, **fields: Any) -> None:
    client = request.client.host if request.client else "?"
    log.info("supervisor_action", action=action, client=client, **fields)


async def _agent_action(request: Request, ctx: HttpContext, action: str) -> JSONResponse:
    aid = _agent_id(ctx, request)
    event: ev.Event
    if action == "pause":
        body = await parse_body(request, PauseBody, empty_ok=True)
        event = ev.AgentPaused(aid, body.reason, body.max_s)
    else:
        # The reason (optional) is for the audit table; the core has none for these.
        await parse_body(request, ReasonBody, empty_ok=True)
        if action == "unpause":
            event = ev.AgentUnpaused(aid)
        elif action == "login":
            event = ev.AgentLoggedIn(aid)
        else:
            event = ev.AgentLoggedOut(aid)
    _submit(ctx, event)
    await _stored(ctx)
    _log_action(request, action, agent_id=aid)
    return JSONResponse({"ok": True, "agent": ctx.live.agent(aid)})


def _agent_state_route(action: str, audit: AuditAction) -> Callable[[Request], Awaitable[JSONResponse]]:
    """pause, unpause, login, logout: one guarded, audited handler shape each."""

    async def handler(request: Request) -> JSONResponse:
        return await audited(
            request,
            audit,
            TargetKind.AGENT,
            _path(request, "agent_id"),
            lambda: _guarded(request, lambda ctx: _agent_action(request, ctx, action), agent=True),
        )

    handler.__name__ = f"agent_{action}"
    return handler


agent_pause = _agent_state_route("pause", AuditAction.PAUSE)
agent_unpause = _agent_state_route("unpause", AuditAction.UNPAUSE)
agent_login = _agent_state_route("login", AuditAction.LOGIN)
agent_logout = _agent_state_route("logout", AuditAction.LOGOUT)


async def agent_skills(request: Request) -> JSONResponse:
    async def act(ctx: HttpContext) -> JSONResponse:
        aid = _agent_id(ctx, request)
        body = await parse_body(request, SkillsBody)
        known = ctx.service.router.centre.skills
        unknown = sorted(s for s in body.root if s not in known)
        if unknown:
            raise HttpError(422, f"unknown skill {', '.join(unknown)} (not declared under skills)")
        _submit(ctx, ev.AgentSkillsChanged(aid, dict(body.root)))
        await _stored(ctx)
        _log_action(request, "skills", agent_id=aid, skills=dict(body.root))
        return JSONResponse({"ok": True, "agent": ctx.live.agent(aid)})

    return await audited(
        request,
        AuditAction.SKILLS,
        TargetKind.AGENT,
        _path(request, "agent_id"),
        lambda: _guarded(request, act, agent=True),
    )


async def queue_patch(request: Request) -> JSONResponse:
    async def act(ctx: HttpContext) -> JSONResponse:
        name = str(request.path_params["name"])
        spec = ctx.service.router.centre.queue(name)
        if spec is None:
            raise HttpError(404, f"unknown queue {name!r}")
        body = await parse_body(request, QueuePatch)
        changes: dict[str, Any] = {}
        if body.priority is not None:
            changes["priority"] = body.priority
        if body.steps is not None:
            skills = ctx.service.router.centre.skills
            problems = []
            for i, s in enumerate(body.steps):
                if i and s.after_s <= body.steps[i - 1].after_s:
                    problems.append(f"steps[{i}].after_s must be greater than steps[{i - 1}].after_s")
                try:
                    expr.parse(s.requirement, skills)
                except expr.ExpressionError as e:
                    problems.append(f"steps[{i}].requirement: {e} in {s.requirement!r}")
            if problems:
                raise HttpError(422, "; ".join(problems))
            changes["steps"] = tuple(StepSpec(s.after_s, s.requirement, s.priority_boost) for s in body.steps)
        if not changes:
            raise HttpError(422, "nothing to change: give priority and/or steps")
        _submit(ctx, ev.QueueChanged(replace(spec, **changes)))
        await _stored(ctx)
        _log_action(request, "queue_changed", queue=name, fields=sorted(changes))
        return JSONResponse({"ok": True, "queue": ctx.live.queue(name)})

    name = _path(request, "name")
    return await audited(
        request, AuditAction.QUEUE, TargetKind.QUEUE, name, lambda: _guarded(request, act, queues=[name])
    )


async def interaction_move(request: Request) -> JSONResponse:
    async def act(ctx: HttpContext) -> JSONResponse:
        iid = str(request.path_params["interaction_id"])
        if iid not in ctx.service.router.interactions:
            raise HttpError(404, f"unknown interaction {iid!r}")
        body = await parse_body(request, MoveBody)
        if body.queue not in ctx.service.router.queues:
            raise HttpError(422, f"unknown queue {body.queue!r}")
        # Both ends must be within a supervisor's scope: the queue it leaves and the one it joins.
        here = ctx.service.router.interactions[iid].queue.spec.name
        who = authenticate(request, ctx.service)
        denied = (
            who if isinstance(who, JSONResponse) else authorise(ctx.service, who, queues=[here, body.queue])
        )
        if denied is not None:
            raise HttpError(denied.status_code, json.loads(bytes(denied.body))["error"])
        _submit(ctx, ev.InteractionMoved(iid, body.queue))
        _log_action(request, "move", interaction_id=iid, queue=body.queue)
        return JSONResponse({"ok": True, "position": ctx.service.router.position(iid), "queue": body.queue})

    return await audited(
        request,
        AuditAction.MOVE,
        TargetKind.INTERACTION,
        _path(request, "interaction_id"),
        lambda: _guarded(request, act, any_supervisor=True),
    )


async def interaction_priority(request: Request) -> JSONResponse:
    async def act(ctx: HttpContext) -> JSONResponse:
        iid = str(request.path_params["interaction_id"])
        if iid not in ctx.service.router.interactions:
            raise HttpError(404, f"unknown interaction {iid!r}")
        body = await parse_body(request, PriorityBody)
        here = ctx.service.router.interactions[iid].queue.spec.name
        who = authenticate(request, ctx.service)
        denied = who if isinstance(who, JSONResponse) else authorise(ctx.service, who, queues=[here])
        if denied is not None:
            raise HttpError(denied.status_code, json.loads(bytes(denied.body))["error"])
        _submit(ctx, ev.InteractionPriorityChanged(iid, body.priority))
        _log_action(request, "priority", interaction_id=iid, priority=body.priority)
        return JSONResponse(
            {"ok": True, "priority": body.priority, "position": ctx.service.router.position(iid)}
        )

    return await audited(
        request,
        AuditAction.PRIORITY,
        TargetKind.INTERACTION,
        _path(request, "interaction_id"),
        lambda: _guarded(request, act, any_supervisor=True),
    )


async def config_reload(request: Request) -> JSONResponse:
    async def act(ctx: HttpContext) -> JSONResponse:
        path = ctx.config_path or ctx.service.config.source
        if not path or not Path(path).is_file():
            raise HttpError(409, f"no config file to re-read (service config came from {path!r})")
        try:
            # Reading and checking a 20,000-agent file takes a while: keep the loop free.
            new = await asyncio.to_thread(load_config, path)
            centre = await asyncio.to_thread(new.to_centre)
        except ConfigError as e:
            raise HttpError(
                422, "config not reloaded: the file has errors", issues=[i.render(e.source) for i in e.issues]
            ) from None
        old = ctx.service.config
        try:
            _submit(ctx, ev.CentreReplaced(centre))
        except HttpError as e:
            raise HttpError(422, f"config not reloaded: {e.body['error']}") from None
        ctx.service.apply_config(new)
        restart = [s for s in RESTART_SECTIONS if getattr(old, s) != getattr(new, s)]
        if nodes_changed(old, new):
            restart.append("asterisk")
        _log_action(request, "config_reload", path=path, restart_needed=restart)
        return JSONResponse({"ok": True, "summary": summary(new), "restart_needed": restart})

    return await audited(
        request, AuditAction.RELOAD, TargetKind.CONFIG, "config", lambda: _guarded(request, act)
    )


async def _guarded(
    request: Request,
    act: Any,
    *,
    agent: bool = False,
    queues: list[str] | None = None,
    any_supervisor: bool = False,
) -> JSONResponse:
    """Authorise, then act. `agent`: the path's agent is the target (agents may act on
    themselves); `queues`: these queues are; `any_supervisor`: `act` checks the targets
    itself once it knows them; none of these: admin only."""
    ctx: HttpContext = request.app.state.ctx
    if agent:
        aid = str(request.path_params["agent_id"])
        if aid not in ctx.service.router.agents:
            return JSONResponse({"error": f"unknown agent {aid!r}"}, status_code=404)
        denied = check_action(request, ctx.service, agent_id=aid)
    elif any_supervisor:
        who = authenticate(request, ctx.service)
        if isinstance(who, JSONResponse):
            denied = who
        elif who.role in (Role.ADMIN, Role.SUPERVISOR):
            denied = not_leading(ctx.service)
        else:
            denied = forbidden(f"{who.user} ({who.role.value}) may not do this")
    else:
        denied = check_action(request, ctx.service, queues=queues or ())
    if denied is not None:
        return denied
    try:
        response: JSONResponse = await act(ctx)
        return response
    except HttpError as e:
        return JSONResponse(e.body, status_code=e.status)
