"""Who may call the HTTP API: bearer tokens resolved to a principal, then checked by role.

Two kinds of token: the configured `http.token` (the admin's machine token, as before) and
session tokens from `POST /api/auth/login` (see `cc_router.accounts`). Actions always need
one; with neither a machine token nor accounts they are refused (403) rather than left
open, since an open control API on a call-centre floor is worse than a missing feature.

Reads need a token when `http.reads_need_token` is set or the server listens beyond
loopback (callers' numbers and names are personal data). Browsers' EventSource cannot
send headers, so reads also accept `?token=`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from starlette.requests import Request
from starlette.responses import JSONResponse

from cc_router.accounts.access import (
    account_book,
    configured_token,
    control_possible,
    refusal,
    resolve,
)
from cc_router.accounts.roles import Principal
from cc_router.config import environment
from cc_router.service import Service

__all__ = [
    "account_book",
    "authenticate",
    "authorise",
    "check_action",
    "check_read",
    "configured_token",
    "forbidden",
    "not_leading",
    "read_principal",
    "resolve",
]

NO_TOKEN_MESSAGE = (
    "supervisor actions are disabled: no API token is configured. Set http.token in the "
    f"config file or the environment variable {environment.API_TOKEN}, then restart cc-router"
)


def presented_token(request: Request, allow_query: bool) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if allow_query:
        return request.query_params.get("token") or None
    return None


def _unauthorized(message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=401, headers={"WWW-Authenticate": "Bearer"})


def forbidden(message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=403)


def authenticate(
    request: Request, service: Service, *, allow_query: bool = False
) -> Principal | JSONResponse:
    """The caller's principal, or the 401/403 response to send."""
    if not control_possible(service):
        return forbidden(NO_TOKEN_MESSAGE)
    given = presented_token(request, allow_query)
    if given is None:
        return _unauthorized("missing bearer token (header 'Authorization: Bearer <token>')")
    p = resolve(service, given)
    if p is None:
        return _unauthorized("wrong or expired token")
    return p


def authorise(
    service: Service, p: Principal, *, agent_id: str | None = None, queues: Iterable[str] = ()
) -> JSONResponse | None:
    """None when `p` may act on the agent and every queue named; no target: admin only."""
    why = refusal(service, p, agent_id=agent_id, queues=queues)
    return None if why is None else forbidden(why)


def check_action(
    request: Request,
    service: Service,
    *,
    agent_id: str | None = None,
    queues: Iterable[str] = (),
) -> JSONResponse | None:
    """None when the request may change state, else the error response to send: 401/403
    for who is asking, then 503 while this router is not the one routing."""
    p = authenticate(request, service)
    if isinstance(p, JSONResponse):
        return p
    return authorise(service, p, agent_id=agent_id, queues=queues) or not_leading(service)


def listens_beyond_loopback(service: Service) -> bool:
    host = service.config.http.host
    if host == "localhost":
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return True  # a name, or "" / "0.0.0.0"-like wildcards: assume reachable


def reads_need_login(service: Service) -> bool:
    return service.config.http.reads_need_token or listens_beyond_loopback(service)


def read_principal(request: Request, service: Service) -> Principal | JSONResponse | None:
    """The reader (None: anonymous reads allowed here), or the 401 to send."""
    given = presented_token(request, allow_query=True)
    if given is not None:
        p = resolve(service, given)
        if p is not None:
            return p
    if not reads_need_login(service):
        return None
    if not control_possible(service):
        # Nothing could ever log in: keep the old rule (reads open without any token).
        return None
    if given is None:
        return _unauthorized("reads need a login (bearer header or ?token=)")
    return _unauthorized("wrong or expired token")


def not_leading(service: Service) -> JSONResponse | None:
    """503 naming the leader while this router stands by (or has not started routing)."""
    lead = service.parts.leadership
    if lead is None:
        return None
    role = lead.role
    if role == "leader" and service.routing:
        return None
    if role == "leader":
        role = "starting"
    leader = lead.leader_address or None
    message = (
        "this router is a standby; send control actions to the leader"
        if role == "standby"
        else f"this router is not routing ({role}); try again shortly or ask the leader"
    )
    return JSONResponse({"error": message, "role": role, "leader": leader}, status_code=503)


def check_read(request: Request, service: Service) -> JSONResponse | None:
    p = read_principal(request, service)
    return p if isinstance(p, JSONResponse) else None
