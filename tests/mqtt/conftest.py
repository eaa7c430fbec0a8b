"""MQTT fixtures: the shared Mosquitto on 127.0.0.1:1883, or a private one to kill."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
import subprocess
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import aiomqtt
import pytest
import pytest_asyncio

from cc_router.config import Config, loads_config
from cc_router.mqtt import MqttComponent, attach_mqtt
from cc_router.service import Service

HOST = "127.0.0.1"
PORT = 1883
API_TOKEN = "desk-token-123"

CENTRE = """
skills: [billing]
agents:
  - {id: "1001", name: 陈静, skills: {billing: 5}}
  - {id: "1002", skills: {billing: 3}}
queues:
  - {name: billing, requirement: billing, wrapup_s: 30}
http: {token: %(token)s}
mqtt: {enabled: true, host: 127.0.0.1, port: %(port)d, topic_prefix: %(prefix)s}
"""


def make_config(prefix: str, port: int = PORT) -> Config:
    return loads_config(CENTRE % {"token": API_TOKEN, "port": port, "prefix": prefix}, env={})


@dataclass
class Watcher:
    """A test client subscribed to `{prefix}/#`, keeping every message it saw."""

    client: aiomqtt.Client
    messages: list[tuple[str, bytes, bool]] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def on(self, topic: str) -> list[bytes]:
        return [p for t, p, _ in self.messages if t == topic]

    def json_on(self, topic: str) -> list[dict[str, Any]]:
        return [json.loads(p) for p in self.on(topic) if p]

    async def wait_for(self, pred: Callable[[], Any], timeout: float = 5.0, what: str = "condition") -> Any:
        try:
            async with asyncio.timeout(timeout):
                while not (result := pred()):
                    self.changed.clear()
                    await self.changed.wait()
                return result
        except TimeoutError:
            raise AssertionError(f"timed out waiting for {what}; saw {self.messages[-10:]}") from None

    async def send(self, topic: str, payload: bytes | str | dict[str, Any]) -> None:
        data = json.dumps(payload) if isinstance(payload, dict) else payload
        await self.client.publish(topic, data, qos=1)


@contextlib.asynccontextmanager
async def watcher(prefix: str, port: int = PORT, pattern: str = "#") -> AsyncIterator[Watcher]:
    async with aiomqtt.Client(HOST, port, identifier=f"test-{uuid.uuid4().hex[:8]}") as client:
        w = Watcher(client)
        await client.subscribe(f"{prefix}/{pattern}", qos=1)

        async def pump() -> None:
            async for m in client.messages:
                raw = m.payload if isinstance(m.payload, bytes) else str(m.payload or "").encode()
                w.messages.append((m.topic.value, raw, m.retain))
                w.changed.set()

        task = asyncio.create_task(pump())
        try:
            yield w
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
                await task


async def clear_retained(prefix: str, port: int = PORT) -> None:
    """Leave nothing retained on the shared broker."""
    async with watcher(prefix, port) as w:
        await asyncio.sleep(0.2)
        for topic in {t for t, p, retained in w.messages if retained and p}:
            await w.client.publish(topic, b"", qos=1, retain=True)


@dataclass
class Running:
    service: Service
    mqtt: MqttComponent
    prefix: str

    def topic(self, suffix: str) -> str:
        return f"{self.prefix}/{suffix}"

    async def connected(self, timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            while not self.mqtt.connected:
                await asyncio.sleep(0.01)


@contextlib.asynccontextmanager
async def running(prefix: str, port: int = PORT) -> AsyncIterator[Running]:
    service = Service.from_config(make_config(prefix, port))
    component = attach_mqtt(service)
    assert component is not None
    component.initial_backoff_s, component.max_backoff_s = 0.05, 0.3
    task = asyncio.create_task(component.run())
    try:
        yield Running(service, component, prefix)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@pytest.fixture
def prefix() -> str:
    return f"ccr-test-{uuid.uuid4().hex[:10]}"


@pytest_asyncio.fixture
async def shared(prefix: str) -> AsyncIterator[Running]:
    async with running(prefix) as r:
        await r.connected()
        try:
            yield r
        finally:
            pass
    await clear_retained(prefix)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


class PrivateBroker:
    """A Mosquitto of our own, so a test can kill and restart it."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.proc = subprocess.Popen(
            [binary, "-p", str(self.port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    async def ready(self, timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            while True:
                try:
                    _, writer = await asyncio.open_connection(HOST, self.port)
                    writer.close()
                    return
                except OSError:
                    await asyncio.sleep(0.02)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)
        self.proc = None


@pytest.fixture
def private_broker() -> Iterator[PrivateBroker]:
    if shutil.which("mosquitto") is None and not os.path.exists("/usr/sbin/mosquitto"):
        pytest.fail("mosquitto binary not installed (apt-get install mosquitto)")
    broker = PrivateBroker(free_port())
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()
