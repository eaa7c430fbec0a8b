"""Puts the agent desktop into a service (called from wiring.py, after HTTP, accounts and
omnichannel so it can hook onto them)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from cc_router.desk.dispositions import DispositionWriter
from cc_router.desk.hub import DesktopHub
from cc_router.service import Service


def attach(service: Service) -> DesktopHub:
    hub = DesktopHub.attach(service)
    engine = getattr(service.extras.get("store"), "engine", None)
    writer = DispositionWriter(service, engine if isinstance(engine, AsyncEngine) else None)
    service.components.append(writer)
    board: Any = service.extras.get("omni.offers")
    if board is not None:
        hub.task_board = board
        board.listeners.append(hub.task_offer_changed)
    omni = service.extras.get("omni")
    tracker = getattr(omni, "tracker", None)
    if tracker is not None:

        def summary(iid: str, active: dict[str, Any] = tracker.active) -> Any:
            task = active.get(iid)
            return None if task is None else task.summary

        hub.task_summary = summary

    from cc_router.http.desktop import Desktop, routes

    mine = routes(Desktop(service, hub, writer))
    extra = service.extras.setdefault("http_routes", [])
    assert isinstance(extra, list)
    extra.extend(mine)
    app = getattr(service.extras.get("http"), "app", None)
    if app is not None:
        app.router.routes.extend(mine)
    return hub
