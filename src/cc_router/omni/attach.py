"""Puts the omnichannel pieces into a service (called from wiring.py's omnichannel block)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from cc_router.omni.campaigns import MessageRouter
from cc_router.omni.component import OmniComponent
from cc_router.omni.intake import TaskIntake
from cc_router.omni.offers import OfferBoard
from cc_router.omni.task_store import TaskStore
from cc_router.omni.tracker import TaskTracker
from cc_router.service import Service


@dataclass
class Omni:
    engine: AsyncEngine
    store: TaskStore
    board: OfferBoard
    tracker: TaskTracker
    intake: TaskIntake
    messages: MessageRouter
    component: OmniComponent
    mqtt: Any = None
    """MqttTasks when MQTT is enabled."""
    asterisk: Any = None
    """AsteriskOmni when AMI nodes are configured."""


def build(service: Service, engine: AsyncEngine, *, migrate_schema: bool = True) -> Omni:
    store = TaskStore(engine)
    board = OfferBoard()
    tracker = TaskTracker(store, board)
    intake = TaskIntake(service, store, tracker)
    messages = MessageRouter(service.config, engine, intake)
    return Omni(engine, store, board, tracker, intake, messages, OmniComponent(store, intake, migrate_schema))


def attach(service: Service, store_url: str) -> Omni:
    """Tasks, offers, campaigns; plus HTTP routes, MQTT handlers and AMI hooks where those
    adapters were attached before this block."""
    writer = service.extras.get("store")
    # Share the store writer's engine: one pool per database (and one SQLite file lock owner).
    engine = getattr(writer, "engine", None)
    if not isinstance(engine, AsyncEngine):
        engine = create_async_engine(store_url, pool_pre_ping=True)
    # The store component migrates the shared database; a second concurrent upgrade would
    # collide with it (see OmniComponent), so this one only migrates when there is none.
    return install(service, build(service, engine, migrate_schema=writer is None))


def install(service: Service, omni: Omni) -> Omni:
    service.sinks.append(omni.tracker.sink)
    service.components.append(omni.component)
    service.extras["omni"] = omni
    service.extras["omni.intake"] = omni.intake
    service.extras["omni.offers"] = omni.board
    service.extras["omni.messages"] = omni.messages

    from cc_router.omni.http_routes import routes

    mine = routes(service)
    extra = service.extras.setdefault("http_routes", [])
    assert isinstance(extra, list)
    extra.extend(mine)
    # The HTTP app was built by an earlier block; starlette reads its route list per request.
    http = service.extras.get("http")
    app = getattr(http, "app", None)
    if app is not None:
        app.router.routes.extend(mine)

    mqtt = service.extras.get("mqtt")
    if mqtt is not None:
        from cc_router.mqtt.component import MqttComponent
        from cc_router.omni.mqtt_handlers import MqttTasks

        assert isinstance(mqtt, MqttComponent)
        omni.mqtt = MqttTasks(mqtt, omni.intake, omni.board)
        omni.mqtt.attach()

    nodes = service.extras.get("ami")
    if isinstance(nodes, list) and nodes:
        from cc_router.omni.asterisk_glue import AsteriskOmni

        omni.asterisk = AsteriskOmni(omni.messages, omni.intake)
        for node in nodes:
            omni.asterisk.hook(node)
    return omni
