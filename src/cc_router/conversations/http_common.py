"""Request helpers shared by the customer and agent routes."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from cc_router.omni.tasks import TaskError, validation_message

MAX_BODY = 200_000
Handler = Callable[[Request], Awaitable[Response]]
M = TypeVar("M", bound=BaseModel)


def error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


async def body_model(request: Request, cls: type[M], max_body: int = MAX_BODY) -> M:
    raw = await request.body()
    if len(raw) > max_body:
        raise TaskError(413, f"request body larger than {max_body} bytes")
    try:
        data: Any = json.loads(raw.decode("utf-8")) if raw else {}
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise TaskError(400, "request body is not UTF-8 JSON") from None
    try:
        return cls.model_validate(data)
    except ValidationError as e:
        raise TaskError(422, validation_message(e)) from None


def errors_as_json(handler: Handler) -> Handler:
    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except TaskError as e:
            return error(e.status, e.message)

    return wrapped
