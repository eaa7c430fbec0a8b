"""The starlette application: API, SSE, metrics, health, OpenAPI and the wallboard."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import structlog
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from cc_router.http import actions, reads
from cc_router.http.context import HttpContext
from cc_router.http.openapi import docs_page, openapi_document

log = structlog.get_logger("cc_router.http")
STATIC_DIR = Path(__file__).parent / "static"


async def _wallboard(request: Request) -> Response:
    return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})


async def _openapi(request: Request) -> Response:
    ctx: HttpContext = request.app.state.ctx
    return JSONResponse(openapi_document(ctx.service.config.centre.name))


async def _docs(request: Request) -> Response:
    ctx: HttpContext = request.app.state.ctx
    return HTMLResponse(docs_page(openapi_document(ctx.service.config.centre.name)))


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return JSONResponse({"error": exc.detail}, status_code=exc.status_code, headers=exc.headers)


async def _server_error(request: Request, exc: Exception) -> Response:
    # Should not happen: bad input is answered with 4xx by the handlers. Logged with the
    # path only (bodies may hold names and numbers).
    log.error("http_handler_failed", path=request.url.path, error=f"{type(exc).__name__}: {exc}")
    return JSONResponse({"error": "internal error"}, status_code=500)


def create_app(ctx: HttpContext, extra_routes: Sequence[BaseRoute] = ()) -> Starlette:
    """The app; `extra_routes` (other features' routes) are served after the built-in ones."""
    routes: list[BaseRoute] = [
        Route("/", _wallboard),
        Route("/wallboard", _wallboard),
        Route("/favicon.ico", lambda r: RedirectResponse("/static/favicon.svg")),
        Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
        Route("/api/queues", reads.queues),
        Route("/api/queues/{name}", reads.queue, methods=["GET"]),
        Route("/api/queues/{name}", actions.queue_patch, methods=["PATCH"]),
        Route("/api/channels", reads.channels),
        Route("/api/agents", reads.agents),
        Route("/api/agents/{agent_id}", reads.agent),
        Route("/api/agents/{agent_id}/pause", actions.agent_pause, methods=["POST"]),
        Route("/api/agents/{agent_id}/unpause", actions.agent_unpause, methods=["POST"]),
        Route("/api/agents/{agent_id}/login", actions.agent_login, methods=["POST"]),
        Route("/api/agents/{agent_id}/logout", actions.agent_logout, methods=["POST"]),
        Route("/api/agents/{agent_id}/skills", actions.agent_skills, methods=["PUT"]),
        Route("/api/interactions", reads.interactions),
        Route("/api/interactions/{interaction_id}/move", actions.interaction_move, methods=["POST"]),
        Route("/api/interactions/{interaction_id}/priority", actions.interaction_priority, methods=["POST"]),
        Route("/api/config/reload", actions.config_reload, methods=["POST"]),
        Route("/api/stream", reads.stream),
        Route("/metrics", reads.metrics),
        Route("/livez", reads.livez),
        Route("/readyz", reads.readyz),
        Route("/openapi.json", _openapi),
        Route("/docs", _docs),
    ]
    routes.extend(extra_routes)
    app = Starlette(
        routes=routes,
        exception_handlers={HTTPException: _http_error, Exception: _server_error},
    )
    app.state.ctx = ctx
    return app
