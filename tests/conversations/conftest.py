"""A small written-channel centre with the omni parts and conversations attached."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine

from cc_router.config import Config
from cc_router.config.load import loads_config
from cc_router.conversations.attach import Conversations
from cc_router.conversations.attach import build as build_conversations
from cc_router.conversations.attach import install as install_conversations
from cc_router.core import events as ev
from cc_router.http import HttpComponent, attach_http
from cc_router.omni.attach import Omni, build, install
from cc_router.service import Service

TOKEN = "conv-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}

CENTRE = """
centre: {name: conversations test, timezone: Asia/Shanghai}
skills: [lang_zh, billing]
profiles:
  written: {capacity: {chat: 2, email: 2, sms: 2}}
agents:
  - {id: a1, profile: written, skills: {lang_zh: 5, billing: 5}}
  - {id: a2, profile: written, skills: {lang_zh: 5, billing: 5}}
queues:
  - {name: chat_billing, channel: chat, requirement: billing, ring_timeout_s: 60}
  - {name: email_service, channel: email, requirement: billing, ring_timeout_s: 120}
  - {name: sms_service, channel: sms, requirement: billing, ring_timeout_s: 60}
http: {token: conv-test-token}
"""


def centre_config(extra: str = "") -> Config:
    return loads_config(CENTRE + extra, env={})


CHAT = """
conversations:
  chat:
    topics:
      - {name: billing, label: 账单 Billing, queue: chat_billing}
    max_message_chars: 200
    messages_per_minute: 6
    leave_grace_s: 0.3
"""


@dataclass
class Running:
    service: Service
    omni: Omni
    conv: Conversations
    tasks: list[asyncio.Task[None]]
    http: HttpComponent | None = None

    def login(self, *agents: str) -> None:
        for a in agents:
            self.service.submit(ev.AgentLoggedIn(a))


@contextlib.asynccontextmanager
async def running(config: Config, engine: AsyncEngine, *, http: bool = True) -> AsyncIterator[Running]:
    import time

    service = Service.from_config(config, clock=time.time)
    omni = build(service, engine)
    conv = build_conversations(service, omni)
    http_part = attach_http(service, port=0, routes=[*omni.routes(), *conv.routes()]) if http else None
    install_conversations(conv, install(service, omni))
    tasks = [asyncio.create_task(omni.component.run()), asyncio.create_task(conv.component.run())]
    await asyncio.wait_for(conv.hub.ready.wait(), 15)
    try:
        yield Running(service, omni, conv, tasks, http_part)
    finally:
        await conv.hub.drain()
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t


@pytest_asyncio.fixture
async def chat_centre(sqlite_engine: AsyncEngine) -> AsyncIterator[tuple[httpx.AsyncClient, Running]]:
    async with running(centre_config(CHAT), sqlite_engine) as r:
        assert r.http is not None
        app = r.http.app
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            yield client, r


@pytest_asyncio.fixture
async def sqlite_engine(tmp_path):  # type: ignore[no-untyped-def]
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'conv.db'}")
    yield engine
    await engine.dispose()
