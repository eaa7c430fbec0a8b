"""Puts the supervisor console into a service (called from wiring.py): the audit log on the
store's engine, set as `service.parts.audit`, call recording, and the console's routes for
the HTTP app."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.routing import BaseRoute

from cc_router.console.audit import AuditLog
from cc_router.console.monitor import Monitors
from cc_router.console.recording import CallerLegs, Recorder
from cc_router.service import Service

if TYPE_CHECKING:
    from cc_router.adapters.ami.fleet import NodeFleet


def attach(
    service: Service, engine: AsyncEngine, nodes: Iterable[CallerLegs] = (), fleet: NodeFleet | None = None
) -> list[BaseRoute]:
    """The audit log, the recorder (a sink after the AMI nodes', which it asks for the
    caller's channel), listening (monitors) and the console's routes; both follow the
    nodes `fleet` adds or drains."""
    nodes = list(nodes)
    audit = AuditLog(engine, clock=service.clock)
    service.parts.audit = audit
    recorder = Recorder(lambda: service.config, engine, nodes, stored=service.stored, clock=service.clock)
    service.sinks.append(recorder.on_commands)
    service.components.append(recorder)
    monitors = Monitors(service, nodes, clock=service.clock)
    service.components.append(monitors)
    if fleet is not None:
        fleet.follow(recorder.nodes)
        fleet.follow(monitors.nodes)
    from cc_router.http.console_routes import routes
    from cc_router.http.monitor_routes import routes as monitor_routes

    return [*routes(audit, engine), *monitor_routes(monitors, audit)]
