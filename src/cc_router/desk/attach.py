"""Puts the agent desktop into a service (called from wiring.py): its routes are handed
to the HTTP app; its hub is installed after omnichannel so its sink sees offers after the
task board has."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.routing import BaseRoute

from cc_router.desk.dispositions import DispositionWriter, QueueLogNode
from cc_router.desk.hub import DesktopHub
from cc_router.omni.attach import Omni
from cc_router.service import Service

if TYPE_CHECKING:
    from cc_router.adapters.ami.fleet import NodeFleet


def build(
    service: Service,
    engine: AsyncEngine | None,
    omni: Omni | None,
    nodes: Sequence[QueueLogNode] = (),
    fleet: NodeFleet | None = None,
) -> tuple[DesktopHub, list[BaseRoute]]:
    """The hub (not yet fed: see `install`) and the desktop's routes. Dispositions go to
    the queue_log of `nodes` and of those `fleet` adds later."""
    hub = DesktopHub(service)
    writer = DispositionWriter(service, engine, nodes=nodes)
    if fleet is not None:
        fleet.follow(writer.nodes)
    service.components.append(writer)
    if omni is not None:
        hub.task_board = omni.board
        omni.board.listeners.append(hub.task_offer_changed)
        active = omni.tracker.active

        def summary(iid: str) -> Any:
            task = active.get(iid)
            return None if task is None else task.summary

        hub.task_summary = summary

    from cc_router.http.desktop import Desktop, routes

    desk = Desktop(service, hub, writer, intake=omni.intake if omni is not None else None)
    return hub, list(routes(desk))


def install(service: Service, hub: DesktopHub) -> DesktopHub:
    service.sinks.append(hub.on_commands)
    return hub
