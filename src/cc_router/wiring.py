"""Where the service is put together: every adapter is attached here and nowhere else."""

from __future__ import annotations

import os
from dataclasses import dataclass

from cc_router.config import Config
from cc_router.service import Service
from cc_router.store import StoreWriter, migrate
from cc_router.store.interval_job import IntervalReporter


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


def store_url(config: Config, override: str | None = None) -> str:
    return override or os.environ.get("CC_ROUTER_STORE_URL") or config.store.url


def build_service(config: Config, *, store_url_override: str | None = None) -> Service:
    service = Service.from_config(config)

    # --- store: every interaction, agent state and decision in SQL
    url = store_url(config, store_url_override)
    writer = StoreWriter(
        url, batch_size=config.store.batch_size, flush_interval_s=config.store.flush_interval_s
    )
    service.sinks.append(writer.submit)
    service.components.append(StoreComponent(writer, url))
    service.extras["store"] = writer
    levels = {q.name: q.service_level_s for q in config.queues}
    service.components.append(IntervalReporter(writer, levels))

    # --- logs: (surfaces) decision log lines
    from cc_router.logs import attach_decision_log

    attach_decision_log(service)
    # --- AMI: (asterisk) one adapter per Asterisk node
    from cc_router.adapters import ami

    service.components.extend(ami.build(service))
    # --- HTTP: (surfaces) API, wallboard, metrics, health
    from cc_router.http import attach_http

    attach_http(service)
    # --- MQTT: (surfaces) agent desktops, state topics
    from cc_router.mqtt import attach_mqtt

    attach_mqtt(service)  # only when mqtt.enabled
    # --- omnichannel: (tasks, campaigns)
    from cc_router.omni.attach import attach as attach_omni

    omni = attach_omni(service, url)  # tasks, offers, campaigns; after HTTP, MQTT and AMI to hook onto them
    # --- conversations: (chat widget, mailboxes, SMS threads) transcripts and replies
    from cc_router.conversations.attach import attach as attach_conversations

    attach_conversations(service, omni)
    return service
