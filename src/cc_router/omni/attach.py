"""Puts the omnichannel pieces into a service (called from wiring.py's omnichannel block).

`build` makes the parts without touching the service, so their HTTP routes (`Omni.routes`)
can go to the app builder; `install` then adds the sink and component and hooks the
MQTT component and the AMI nodes it is handed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.routing import Route

from cc_router.mqtt.component import MqttComponent
from cc_router.omni.asterisk_glue import AmiNodeLike, AsteriskOmni
from cc_router.omni.campaigns import MessageRouter
from cc_router.omni.component import OmniComponent
from cc_router.omni.http_routes import routes
from cc_router.omni.intake import TaskIntake
from cc_router.omni.mqtt_handlers import MqttTasks
from cc_router.omni.offers import OfferBoard
from cc_router.omni.task_store import TaskStore
from cc_router.omni.tracker import TaskTracker
from cc_router.service import Service

if TYPE_CHECKING:
    from cc_router.adapters.ami.fleet import NodeFleet


@dataclass
class Omni:
    engine: AsyncEngine
    store: TaskStore
    board: OfferBoard
    tracker: TaskTracker
    intake: TaskIntake
    messages: MessageRouter
    component: OmniComponent
    mqtt: MqttTasks | None = None
    """Set by `install` when MQTT is enabled."""
    asterisk: AsteriskOmni | None = None
    """Set by `install` when AMI nodes are configured."""

    def routes(self) -> list[Route]:
        """Task and offer routes for the HTTP app (`cc_router.http.attach_http`)."""
        return routes(self.intake, self.board)


def build(service: Service, engine: AsyncEngine, *, migrate_schema: bool = True) -> Omni:
    """The parts, sharing `engine` (one pool per database, one SQLite file lock owner).
    `migrate_schema=False` when the store component migrates the same database: a second
    concurrent upgrade would collide with it (see OmniComponent)."""
    store = TaskStore(engine)
    board = OfferBoard()
    tracker = TaskTracker(store, board)
    intake = TaskIntake(service, store, tracker)
    messages = MessageRouter(service.config, engine, intake)
    return Omni(engine, store, board, tracker, intake, messages, OmniComponent(store, intake, migrate_schema))


def install(
    service: Service,
    omni: Omni,
    *,
    mqtt: MqttComponent | None = None,
    nodes: Sequence[AmiNodeLike] = (),
    fleet: NodeFleet | None = None,
) -> Omni:
    """Tasks, offers, campaigns; plus MQTT handlers and AMI hooks on the parts given, and
    on every node `fleet` adds later (a reload)."""
    service.sinks.append(omni.tracker.sink)
    service.components.append(omni.component)
    if mqtt is not None:
        omni.mqtt = MqttTasks(mqtt, omni.intake, omni.board)
        omni.mqtt.attach()
    for node in nodes:
        join_node(omni, node)
    if fleet is not None:
        fleet.joined.append(lambda node: join_node(omni, node))
        fleet.left.append(lambda node: leave_node(omni, node))
    return omni


def join_node(omni: Omni, node: AmiNodeLike) -> None:
    """SMS and fax from `node`, replies through it (the first node makes the Asterisk glue)."""
    if omni.asterisk is None:
        omni.asterisk = AsteriskOmni(omni.messages, omni.intake)
    omni.asterisk.hook(node)


def leave_node(omni: Omni, node: AmiNodeLike) -> None:
    if omni.asterisk is not None:
        omni.asterisk.unhook(node)
