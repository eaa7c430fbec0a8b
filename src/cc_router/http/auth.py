"""Bearer-token checks for the control API.

Supervisor actions always need the token; with none configured they are refused (403)
rather than left open, since an open control API on a call-centre floor is worse than a
missing feature. Reads need it only with `http.reads_need_token`; browsers' EventSource
cannot send headers, so reads also accept `?token=`.
"""

from __future__ import annotations

import hmac

from starlette.requests import Request
from starlette.responses import JSONResponse

from cc_router.config import environment
from cc_router.service import Service

NO_TOKEN_MESSAGE = (
    "supervisor actions are disabled: no API token is configured. Set http.token in the "
    f"config file or the environment variable {environment.API_TOKEN}, then restart cc-router"
)


def configured_token(service: Service) -> str | None:
    return environment.api_token(service.config.http.token)


def _presented(request: Request, allow_query: bool) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if allow_query:
        return request.query_params.get("token") or None
    return None


def _unauthorized(message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=401, headers={"WWW-Authenticate": "Bearer"})


def check_action(request: Request, service: Service) -> JSONResponse | None:
    """None when the request may change state, else the error response to send."""
    token = configured_token(service)
    if token is None:
        return JSONResponse({"error": NO_TOKEN_MESSAGE}, status_code=403)
    given = _presented(request, allow_query=False)
    if given is None:
        return _unauthorized("missing bearer token (header 'Authorization: Bearer <token>')")
    if not hmac.compare_digest(given.encode(), token.encode()):
        return _unauthorized("wrong token")
    return not_leading(service)


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
    if not service.config.http.reads_need_token:
        return None
    token = configured_token(service)
    if token is None:
        return None
    given = _presented(request, allow_query=True)
    if given is None:
        return _unauthorized("reads need the API token (bearer header or ?token=)")
    if not hmac.compare_digest(given.encode(), token.encode()):
        return _unauthorized("wrong token")
    return None
