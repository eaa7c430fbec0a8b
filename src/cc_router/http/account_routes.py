"""Login and logout: `POST /api/auth/login {"user", "password"}` -> a session token.

POST /api/auth/login    200 {token, expires_at, user}; 401 wrong; 429 after repeated failures
POST /api/auth/logout   revokes the bearer token presented
GET  /api/auth/me       who the token belongs to
"""

from __future__ import annotations

import json
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from cc_router.accounts.book import AccountBook
from cc_router.accounts.roles import MACHINE
from cc_router.http.auth import authenticate, presented_token

MAX_BODY = 4096


class LoginBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user: Annotated[str, Field(min_length=1, max_length=128)]
    password: Annotated[str, Field(min_length=1, max_length=1024)]


def _error(status: int, message: str, **headers: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers or None)


def routes(book: AccountBook) -> list[Route]:
    async def login(request: Request) -> Response:
        raw = await request.body()
        if len(raw) > MAX_BODY:
            return _error(413, f"body larger than {MAX_BODY} bytes")
        try:
            body = LoginBody.model_validate(json.loads(raw or b"null"))
        except (ValueError, UnicodeDecodeError, ValidationError):
            # Not echoed back: the body holds a password.
            return _error(422, 'body must be {"user": "...", "password": "..."}')
        if not book.loaded.is_set():
            return _error(503, "accounts are still loading; try again in a moment", **{"Retry-After": "1"})
        address = request.client.host if request.client else "?"
        result = await book.login(body.user, body.password, address)
        if result.retry_after_s is not None:
            return _error(429, result.error, **{"Retry-After": str(max(1, round(result.retry_after_s)))})
        if result.token is None or result.user is None:
            return _error(401, result.error)
        return JSONResponse(
            {"token": result.token, "expires_at": result.expires_at, "user": result.user.public()}
        )

    async def logout(request: Request) -> Response:
        token = presented_token(request, allow_query=False)
        if token is None:
            return _error(401, "missing bearer token")
        if not await book.logout(token):
            return _error(401, "not a live session token")
        return JSONResponse({"ok": True})

    async def me(request: Request) -> Response:
        service = request.app.state.ctx.service
        p = authenticate(request, service)
        if isinstance(p, JSONResponse):
            return p
        if p is MACHINE:
            return JSONResponse({"user": p.user, "role": p.role.value, "agent_id": None})
        token = presented_token(request, allow_query=False) or ""
        user = book.user_of(token)
        return JSONResponse(user.public() if user else {"user": p.user, "role": p.role.value})

    return [
        Route("/api/auth/login", login, methods=["POST"]),
        Route("/api/auth/logout", logout, methods=["POST"]),
        Route("/api/auth/me", me, methods=["GET"]),
    ]
