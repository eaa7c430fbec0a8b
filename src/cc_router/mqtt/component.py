"""`MqttComponent`: the service's MQTT connection (see the package docstring for topics)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import aiomqtt
import structlog
from pydantic import SecretStr

from cc_router.accounts.access import interaction_check, session_check
from cc_router.config import environment
from cc_router.config.models import MqttConfig
from cc_router.core import commands as cmd
from cc_router.core import events as ev
from cc_router.live import LiveView
from cc_router.mqtt import agent_commands, interaction_commands
from cc_router.mqtt.event_stream import event_of
from cc_router.mqtt.state import RetainedState
from cc_router.mqtt.topics import Topics
from cc_router.service import Service

log = structlog.get_logger("cc_router.mqtt")

Handler = Callable[[str, bytes], Awaitable[None]]
"""`async handler(topic, payload)`; runs on the receive loop, so it must be quick."""

_CHUNK = 100
"""Publishes in flight at once: QoS 1 acknowledgements overlap instead of queueing up."""

Payload = bytes | str | dict[str, Any] | list[Any] | None


@dataclass(frozen=True, slots=True)
class _Outgoing:
    topic: str
    payload: Payload
    """Encoded by the publisher task, off the routing path."""
    qos: int
    retain: bool


def _encode(payload: Payload) -> bytes:
    if payload is None:
        return b""
    if isinstance(payload, bytes):
        return payload
    if isinstance(payload, str):
        return payload.encode()
    return json.dumps(payload, ensure_ascii=False, default=str, separators=(",", ":")).encode()


class MqttComponent:
    """Connects, keeps retained state current, streams events, takes agent commands.

    `api_token`: what agent commands must carry (None: no auth); defaults to
    `config.http.token`, else CC_ROUTER_API_TOKEN.
    """

    name = "mqtt"

    def __init__(
        self,
        service: Service,
        live: LiveView,
        config: MqttConfig,
        *,
        api_token: SecretStr | None = None,
        min_interval_s: float = 0.2,
        initial_backoff_s: float = 0.2,
        max_backoff_s: float = 30.0,
        max_outbox: int = 50_000,
        keepalive_s: int = 30,
    ) -> None:
        self.service = service
        self.config = config
        self.topics = Topics(config.topic_prefix.rstrip("/"))
        if api_token is None:
            api_token = service.config.http.token
        if api_token is None and (env_token := environment.api_token()):
            api_token = SecretStr(env_token)
        self._api_token = api_token
        self.state = RetainedState(service.router, live, self.topics, min_interval_s)
        self.initial_backoff_s = initial_backoff_s
        self.max_backoff_s = max_backoff_s
        self.keepalive_s = keepalive_s
        self.client_id = config.client_id or f"cc-router-{uuid.uuid4().hex[:8]}"
        self.connected = False
        self.connects = 0
        self.dropped = 0
        """Outgoing messages dropped because the outbox was full (broker away too long)."""
        self._outbox: deque[_Outgoing] = deque(maxlen=max_outbox)
        self._handlers: list[tuple[str, Handler]] = [
            (self.topics.agent_commands, self._on_agent_command),
            (self.topics.interaction_commands, self._on_interaction_command),
        ]
        self._new_filters: list[str] = []
        self._wake = asyncio.Event()

    # ------------------------------------------------------------------ for other modules

    def add_handler(self, topic_filter: str, callback: Handler) -> None:
        """Call `callback(topic, payload)` for every message matching `topic_filter`.

        The filter is a full MQTT filter (`+`/`#` allowed); build it with
        `component.topics.under("agents/+/offer/+")` to stay under the prefix. It is
        subscribed now if connected, and again after every reconnect.
        """
        self._handlers.append((topic_filter, callback))
        if topic_filter not in {f for f, _ in self._handlers[:-1]}:
            self._new_filters.append(topic_filter)
            self._wake.set()

    def publish(self, topic: str, payload: Payload, *, retain: bool = False, qos: int = 0) -> None:
        """Queue a message; never blocks. While disconnected messages wait in a bounded
        outbox (oldest dropped first); retained state does not go through it."""
        if len(self._outbox) == self._outbox.maxlen:
            self.dropped += 1
        self._outbox.append(_Outgoing(topic, payload, qos, retain))
        self._wake.set()

    # ------------------------------------------------------------------ service hooks (sync)

    def on_event(self, event: ev.Event, now: float) -> None:
        self.state.on_event(event, now)
        if self.state.dirty:
            self._wake.set()

    def on_commands(self, commands: Sequence[cmd.Command], now: float) -> None:
        if not commands:
            return
        self.state.on_commands(commands)
        events = self.topics.events
        for c in commands:
            msg = event_of(c, now)
            if msg is not None:
                self.publish(events, msg)
        self._wake.set()

    # ------------------------------------------------------------------ running

    async def run(self) -> None:
        """Connect, and reconnect with exponential backoff whenever the broker goes away."""
        backoff = self.initial_backoff_s
        password = self.config.password.get_secret_value() if self.config.password is not None else None
        while True:
            started = time.monotonic()
            error: str | None = None
            try:
                async with aiomqtt.Client(
                    self.config.host,
                    self.config.port,
                    username=self.config.username,
                    password=password,
                    identifier=self.client_id,
                    keepalive=self.keepalive_s,
                    timeout=10,
                    will=aiomqtt.Will(self.topics.status, b"offline", qos=1, retain=True),
                ) as client:
                    await self._session(client)
            except* aiomqtt.MqttError as group:
                error = "; ".join(str(e) for e in group.exceptions)
                if self.connected:
                    log.warning("mqtt_disconnected", host=self.config.host, port=self.config.port)
            finally:
                self.connected = False
            if time.monotonic() - started > 60:
                backoff = self.initial_backoff_s
            log.warning(
                "mqtt_unavailable",
                host=self.config.host,
                port=self.config.port,
                error=error,
                retry_in_s=backoff,
            )
            await asyncio.sleep(backoff)
            backoff = min(self.max_backoff_s, backoff * 2)

    async def _session(self, client: aiomqtt.Client) -> None:
        # We overlap up to _CHUNK publishes on purpose; aiomqtt would warn past 10.
        client.pending_calls_threshold = 2 * _CHUNK
        filters = list(dict.fromkeys(f for f, _ in self._handlers))
        self._new_filters.clear()
        for f in filters:
            await client.subscribe(f, qos=1)
        await client.publish(self.topics.status, b"online", qos=1, retain=True)
        self.connected = True
        self.connects += 1
        log.info("mqtt_connected", host=self.config.host, port=self.config.port, client_id=self.client_id)
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._publisher(client, republish=True), name="mqtt-publisher")
            tg.create_task(self._receiver(client), name="mqtt-receiver")

    async def _publisher(self, client: aiomqtt.Client, *, republish: bool) -> None:
        # Building state payloads reads LiveView (a pass over waiting interactions for the
        # queues), so it runs at most every `collect_gap`; events go out as soon as woken.
        collect_gap = self.state.min_interval_s / 4
        next_collect = 0.0
        while True:
            if not republish:
                timeout = None
                if self.state.dirty:
                    timeout = max(0.0, next_collect - time.monotonic())
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(timeout):
                        await self._wake.wait()
            self._wake.clear()
            while self._new_filters:
                await client.subscribe(self._new_filters.pop(0), qos=1)
            now = time.monotonic()
            # Retained state before queued events: a reconnecting desktop sees state first.
            if republish or (self.state.dirty and now >= next_collect):
                messages, _ = self.state.collect(now, republish=republish)
                republish = False
                next_collect = now + collect_gap
                await self._send_many(client, [_Outgoing(t, p, 1, True) for t, p in messages])
            while self._outbox:
                batch = [self._outbox.popleft() for _ in range(min(len(self._outbox), _CHUNK))]
                try:
                    await self._send_many(client, batch)
                except aiomqtt.MqttError:
                    # Unsent messages go back to the front, to go out after the reconnect
                    # (some may then arrive twice: the stream is at-least-once).
                    self._outbox.extendleft(reversed(batch))
                    raise

    @staticmethod
    async def _send_many(client: aiomqtt.Client, messages: Sequence[_Outgoing]) -> None:
        for i in range(0, len(messages), _CHUNK):
            chunk = messages[i : i + _CHUNK]
            await asyncio.gather(
                *(client.publish(m.topic, _encode(m.payload), qos=m.qos, retain=m.retain) for m in chunk)
            )

    async def _receiver(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            topic = message.topic
            raw = message.payload
            payload = bytes(raw) if isinstance(raw, bytes | bytearray) else _encode(str(raw or ""))
            for topic_filter, handler in self._handlers:
                if not topic.matches(topic_filter):
                    continue
                try:
                    await handler(topic.value, payload)
                except Exception:
                    # A handler's bug must not take the connection (and everyone's commands) down.
                    log.exception("mqtt_handler_failed", topic=topic.value, filter=topic_filter)

    # ------------------------------------------------------------------ agent commands

    async def _on_agent_command(self, topic: str, payload: bytes) -> None:
        agent_id = self.topics.agent_of_command(topic)
        if agent_id is None:
            return
        result = agent_commands.execute(
            self.service.router,
            self.service.submit,
            self._api_token,
            agent_id,
            payload,
            session_check(self.service),
        )
        if result["ok"] and not await self.service.stored():
            # Acknowledged only once stored, as over HTTP.
            result = {**result, "ok": False, "error": "applied but not yet stored: the store is unavailable"}
        if result["ok"]:
            log.info("agent_command", agent_id=agent_id, action=result["action"], state=result["state"])
        else:
            log.warning(
                "agent_command_refused", agent_id=agent_id, action=result["action"], error=result["error"]
            )
        self.publish(self.topics.agent_result(agent_id), result, qos=1)

    async def _on_interaction_command(self, topic: str, payload: bytes) -> None:
        iid = self.topics.interaction_of_command(topic)
        if iid is None:
            return
        result = interaction_commands.execute(
            self.service.router,
            self.service.submit,
            self._api_token,
            iid,
            payload,
            interaction_check(self.service),
        )
        if result["ok"]:
            log.info("interaction_command", interaction_id=iid, action=result["action"])
        else:
            log.warning("interaction_command_refused", interaction_id=iid, error=result["error"])
        self.publish(self.topics.interaction_result(iid), result, qos=1)


def attach_mqtt(service: Service) -> MqttComponent | None:
    """Wire MQTT into `service` when `mqtt.enabled`; None (no broker needed) otherwise."""
    config = service.config.mqtt
    if not config.enabled:
        return None
    live = LiveView.attach(service)
    component = MqttComponent(service, live, config)
    service.listeners.append(component.on_event)
    service.sinks.append(component.on_commands)
    service.components.append(component)
    service.parts.mqtt = component
    return component
