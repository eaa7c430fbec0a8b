"""HTTP routes for tasks and desktop offers (starlette), handed to the HTTP app builder.

POST /api/tasks                              submit (201 + task id; 200 for an identical retry)
GET  /api/tasks/{id}                         the stored task
POST /api/tasks/{id}/accept|reject|complete  {agent_id, disposition?}
POST /api/tasks/{id}/transfer                {queue, agent_id?, to_agent?}
GET  /api/agents/{id}/offers[?wait=S]        pending offers (long-poll up to S seconds)
GET  /api/agents/{id}/offers/stream          the same as server-sent events
Tokens as for the control API (`cc_router.http.auth`): the machine token or a login.
Agents act on their own offers and tasks only, supervisors within their scope; GETs need a
token whenever a token or accounts are configured (task contents are customer data).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from pydantic import ValidationError
from sse_starlette.sse import EventSourceResponse
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from cc_router.accounts.roles import Principal, Role
from cc_router.http.auth import account_book, authenticate, authorise, configured_token, read_principal
from cc_router.omni.intake import TaskIntake
from cc_router.omni.offers import OfferBoard
from cc_router.omni.tasks import TaskAction, TaskError, TaskSubmission, TransferRequest, validation_message
from cc_router.service import Service

MAX_BODY = 1_000_000
MAX_WAIT_S = 60.0

Handler = Callable[[Request], Awaitable[Response]]


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _principal(request: Request, service: Service, *, read: bool) -> Principal | None:
    """The caller (None: an anonymous read the server allows), or TaskError 401/403."""
    if read:
        # Task contents are customer data: with any token or account configured, reads need one.
        p = read_principal(request, service)
        if isinstance(p, JSONResponse):
            raise TaskError(p.status_code, _message(p))
        if p is None and (configured_token(service) is not None or account_book(service) is not None):
            raise TaskError(401, "missing or wrong token")
        return p
    who = authenticate(request, service)
    if isinstance(who, JSONResponse):
        raise TaskError(who.status_code, _message(who))
    return who


def _message(response: JSONResponse) -> str:
    return str(json.loads(bytes(response.body))["error"])


def _require(
    service: Service, p: Principal | None, *, agent_id: str | None = None, queue: str | None = None
) -> None:
    """Agents act on their own offers and tasks only; supervisors within scope; admin anywhere."""
    if p is None:
        return
    if p.role is Role.VIEWER and (agent_id is not None or queue is not None):
        raise TaskError(403, f"{p.user} is a viewer: no access to agents' work")
    denied = authorise(service, p, agent_id=agent_id, queues=[queue] if queue else ())
    if denied is not None:
        raise TaskError(403, _message(denied))


def _guard(service: Service, handler: Handler, write: bool) -> Handler:
    """TaskError -> JSON error; authentication here, authorisation in each handler (it
    knows the target: the agent in the path or body, the task's queue)."""

    async def wrapped(request: Request) -> Response:
        try:
            request.state.principal = _principal(request, service, read=not write)
            return await handler(request)
        except TaskError as e:
            return _error(e.status, e.message)

    return wrapped


async def _json(request: Request) -> Any:
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise TaskError(413, f"body larger than {MAX_BODY} bytes")
    try:
        return json.loads(raw.decode("utf-8")) if raw else {}
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise TaskError(400, f"body is not UTF-8 JSON: {e}") from None


M = TypeVar("M", TaskSubmission, TaskAction, TransferRequest)


def _model(cls: type[M], data: Any) -> M:
    try:
        return cls.model_validate(data)
    except ValidationError as e:
        raise TaskError(422, validation_message(e)) from None


def routes(intake: TaskIntake, board: OfferBoard) -> list[Route]:
    service = intake.service

    async def submit(request: Request) -> Response:
        _require(service, request.state.principal)  # intake is an integration's job: admin
        sub = _model(TaskSubmission, await _json(request))
        task, created = await intake.submit(sub, "http")
        return JSONResponse(
            {"task_id": task.task_id, "status": task.status}, status_code=201 if created else 200
        )

    async def get_task(request: Request) -> Response:
        task = await intake.store.get(request.path_params["task_id"])
        if task is None:
            raise TaskError(404, f"no task {request.path_params['task_id']!r}")
        p = request.state.principal
        if p is not None and p.role is Role.AGENT:
            _require(service, p, agent_id=task.agent_id or "")
        elif p is not None and p.role is not Role.ADMIN:
            _require(service, p, queue=task.queue)
        return JSONResponse(task.public())

    async def action(request: Request) -> Response:
        task_id, verb = request.path_params["task_id"], request.path_params["action"]
        body = _model(TaskAction, await _json(request))
        _require(service, request.state.principal, agent_id=body.agent_id)
        if verb == "accept":
            intake.accept(task_id, body.agent_id)
        elif verb == "reject":
            intake.reject(task_id, body.agent_id)
        elif verb == "complete":
            intake.complete(task_id, body.agent_id, body.disposition)
        else:
            raise TaskError(404, f"no action {verb!r} (accept, reject, complete)")
        return JSONResponse({"task_id": task_id, "action": verb, "ok": True})

    async def transfer(request: Request) -> Response:
        body = _model(TransferRequest, await _json(request))
        p = request.state.principal
        if body.agent_id is not None:
            _require(service, p, agent_id=body.agent_id)  # an agent passes on its own task
        if p is not None and p.role is not Role.AGENT:
            _require(service, p, queue=body.queue)
        intake.transfer(request.path_params["task_id"], body.queue, body.agent_id, body.to_agent)
        return JSONResponse({"task_id": request.path_params["task_id"], "queue": body.queue, "ok": True})

    async def offers(request: Request) -> Response:
        agent_id = request.path_params["agent_id"]
        _require(service, request.state.principal, agent_id=agent_id)
        try:
            wait = min(MAX_WAIT_S, max(0.0, float(request.query_params.get("wait", "0"))))
        except ValueError:
            raise TaskError(400, "wait must be a number of seconds") from None
        pending = await board.wait_pending(agent_id, wait)
        return JSONResponse({"agent_id": agent_id, "offers": [o.payload() for o in pending]})

    async def offer_stream(request: Request) -> Response:
        agent_id = request.path_params["agent_id"]
        _require(service, request.state.principal, agent_id=agent_id)

        async def events() -> AsyncIterator[dict[str, str]]:
            with board.subscribe(agent_id) as q:
                for o in board.pending(agent_id):
                    yield {"event": "offer", "data": json.dumps(o.payload(), ensure_ascii=False)}
                while True:
                    try:
                        async with asyncio.timeout(15.0):
                            kind, o, reason = await q.get()
                    except TimeoutError:
                        yield {"event": "ping", "data": "{}"}
                        continue
                    data = (
                        o.payload()
                        if kind == "offer"
                        else {"offer_id": o.offer_id, "task_id": o.task_id, "reason": reason}
                    )
                    yield {"event": kind, "data": json.dumps(data, ensure_ascii=False)}

        return EventSourceResponse(events())

    def w(h: Handler) -> Handler:
        return _guard(service, h, write=True)

    def r(h: Handler) -> Handler:
        return _guard(service, h, write=False)

    return [
        Route("/api/tasks", w(submit), methods=["POST"]),
        Route("/api/tasks/{task_id}", r(get_task), methods=["GET"]),
        Route("/api/tasks/{task_id}/transfer", w(transfer), methods=["POST"]),
        Route("/api/tasks/{task_id}/{action}", w(action), methods=["POST"]),
        Route("/api/agents/{agent_id}/offers", r(offers), methods=["GET"]),
        Route("/api/agents/{agent_id}/offers/stream", r(offer_stream), methods=["GET"]),
    ]
