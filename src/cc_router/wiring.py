"""Where the service is put together: every adapter is attached here and nowhere else.

`build` reads top to bottom in the order the parts are attached (which is the order their
sinks see each command); each part is handed what it uses from the parts before it.
"""

from __future__ import annotations

from dataclasses import dataclass

from cc_router.accounts.attach import attach as attach_accounts
from cc_router.accounts.attach import routes as account_routes
from cc_router.accounts.book import AccountBook
from cc_router.adapters import ami
from cc_router.adapters.ami import AmiNode
from cc_router.adapters.ami.fleet import NodeFleet
from cc_router.config import Config, environment
from cc_router.console.attach import attach as attach_console
from cc_router.conversations.attach import Conversations
from cc_router.conversations.attach import build as build_conversations
from cc_router.conversations.attach import install as install_conversations
from cc_router.desk.attach import build as build_desk
from cc_router.desk.attach import install as install_desk
from cc_router.desk.hub import DesktopHub
from cc_router.ha.attach import LeaderWatch
from cc_router.ha.attach import attach as attach_ha
from cc_router.http import HttpComponent, attach_http
from cc_router.logs import attach_decision_log
from cc_router.mqtt import MqttComponent, attach_mqtt
from cc_router.omni.attach import Omni
from cc_router.omni.attach import build as build_omni
from cc_router.omni.attach import install as install_omni
from cc_router.service import Service
from cc_router.store import StoreWriter, migrate
from cc_router.store.interval_job import IntervalReporter
from cc_router.waiting import Waiting
from cc_router.waiting import attach as attach_waiting


@dataclass
class StoreComponent:
    writer: StoreWriter
    url: str
    name: str = "store"

    async def run(self) -> None:
        try:
            await migrate(self.url)
        except Exception as exc:
            # Reported by /readyz until a retry (the supervisor restarts this) succeeds.
            self.writer.healthy = False
            self.writer.last_error = f"migration failed: {type(exc).__name__}: {exc}"
            raise
        try:
            await self.writer.run()
        finally:
            await self.writer.close(timeout=10)


@dataclass
class Built:
    """The service and the parts attached to it, for callers that look at one of them."""

    service: Service
    store: StoreWriter
    nodes: list[AmiNode]
    http: HttpComponent
    mqtt: MqttComponent | None
    omni: Omni
    leader: LeaderWatch
    accounts: AccountBook
    desk: DesktopHub
    conversations: Conversations
    waiting: Waiting
    fleet: NodeFleet


def service_levels(config: Config) -> dict[str, float]:
    return {q.name: q.service_level_s for q in config.queues}


def store_url(config: Config, override: str | None = None) -> str:
    return override or environment.store_url() or config.store.url


def build(config: Config, *, store_url_override: str | None = None) -> Built:
    service = Service.from_config(config)

    # --- store: every interaction, agent state and decision in SQL
    url = store_url(config, store_url_override)
    writer = StoreWriter(
        url, batch_size=config.store.batch_size, flush_interval_s=config.store.flush_interval_s
    )
    service.sinks.append(writer.submit)
    service.components.append(StoreComponent(writer, url))
    service.parts.store = writer
    reporter = IntervalReporter(writer, service_levels(config))
    service.components.append(reporter)

    def new_levels(new: Config) -> None:
        # the 15-minute rows count service level against the reloaded thresholds
        reporter.service_levels = service_levels(new)

    service.reloaded.append(new_levels)

    # --- logs: (surfaces) decision log lines
    attach_decision_log(service)

    # --- AMI: (asterisk) one adapter per Asterisk node
    nodes = [c for c in ami.build(service) if isinstance(c, AmiNode)]
    service.components.extend(nodes)
    # Nodes a reload adds or removes: every part below that keeps per-node hooks or its
    # own list of nodes is handed the fleet too, and follows it.
    fleet = NodeFleet(service, nodes)
    service.components.append(fleet)

    # --- omnichannel parts (tasks, offers, campaigns): built now so HTTP can serve their
    # routes; they share the store's engine, whose component migrates the schema.
    omni = build_omni(service, writer.engine, migrate_schema=False)

    # --- conversations: (chat widget, mailboxes, SMS threads) transcripts and replies
    conv = build_conversations(service, omni, store_url=url)

    # --- accounts: (surfaces) users, roles, login sessions for the API and the desktop
    book = attach_accounts(service, writer.engine)

    # --- agent desktop: (surfaces) /agent, its stream and actions; its hub is fed below
    hub, desk_routes = build_desk(service, writer.engine, omni, nodes, fleet)

    # --- supervisor console: (surfaces) audit log of supervisor actions, recording, /console
    console_routes = attach_console(service, writer.engine, nodes, fleet)

    # --- HTTP: (surfaces) API, wallboard, metrics, health, task, login, desktop, console routes
    http = attach_http(
        service,
        routes=[*omni.routes(), *conv.routes(), *account_routes(book), *desk_routes, *console_routes],
    )

    # --- MQTT: (surfaces) agent desktops, state topics; only when mqtt.enabled
    mqtt = attach_mqtt(service)

    # --- omnichannel: sink, component, and hooks onto MQTT and the AMI nodes
    install_omni(service, omni, mqtt=mqtt, nodes=nodes, fleet=fleet)
    install_conversations(conv, omni)

    # --- agent desktop: after omnichannel, so the hub sees offers once the task board has
    install_desk(service, hub)

    # --- surviving restarts: leadership, the writer's journal, durable agent sessions
    leader = attach_ha(service, url, writer, http)

    # --- the waiting caller: announcements on hold, callbacks that keep the place; after
    # HA, so stored callbacks are restored once the store is migrated
    waiting = attach_waiting(service, nodes, writer.engine, fleet)
    return Built(service, writer, nodes, http, mqtt, omni, leader, book, hub, conv, waiting, fleet)


def build_service(config: Config, *, store_url_override: str | None = None) -> Service:
    return build(config, store_url_override=store_url_override).service
