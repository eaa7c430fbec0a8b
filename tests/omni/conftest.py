"""Omnichannel fixtures: a small mixed-channel centre and a service with the omni parts."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from starlette.applications import Starlette

from cc_router.config import Config
from cc_router.config.load import loads_config
from cc_router.core import events as ev
from cc_router.http import HttpComponent, attach_http
from cc_router.omni.attach import Omni, build, install
from cc_router.service import Service
from tests.databases import scratch_pg_engine

CENTRE_YAML = """
centre: {name: omni test, timezone: Asia/Shanghai}
skills: [lang_zh, billing, marketing, sales]
profiles:
  voice_chat:                      # chats run alongside a call
    capacity: {voice: 1, chat: 2}
    blocks: {voice: [email, sms, fax], chat: []}
  blended:                         # a call blocks everything
    capacity: {voice: 1, chat: 3}
  back_office:
    capacity: {email: 2, fax: 1, sms: 3}
agents:
  - {id: a1, profile: voice_chat, skills: {lang_zh: 5, billing: 5}}
  - {id: a2, profile: blended, skills: {lang_zh: 5, billing: 5}}
  - {id: b1, profile: back_office, skills: {lang_zh: 5, billing: 5, marketing: 5, sales: 5}}
queues:
  - {name: voice_zh, channel: voice, requirement: lang_zh}
  - {name: chat_zh, channel: chat, requirement: lang_zh, ring_timeout_s: 30}
  - {name: chat_vip, channel: chat, requirement: billing >= 5, ring_timeout_s: 30}
  - {name: email_service, channel: email, requirement: billing, ring_timeout_s: 120, wrapup_s: 10}
  - {name: sms_marketing, channel: sms, requirement: marketing, ring_timeout_s: 60}
  - {name: fax_orders, channel: fax, requirement: sales, ring_timeout_s: 300}
routing: {offer_grace_s: 2, miss_exclusion_s: 30, max_misses: 3}
numbers:
  "10086": {queue: voice_zh}
  "10658000": {queue: sms_marketing, attributes: {lob: marketing}}
  "9555": {queue: fax_orders, attributes: {lob: sales}}
campaigns:
  - name: spring_2012
    service_number: "10658000"
    keyword: "2012"
    start: 2027-01-23T00:00:00
    end: 2027-01-30T00:00:00
    reply_enrolled: 您已成功参加春节“2012”优惠活动。【中国移动】
    reply_repeat: 您已参加过本次活动，无需重复发送。【中国移动】
    reply_outside: 本活动参与时间为1月23日至1月29日。【中国移动】
"""


def centre_config(extra: str = "") -> Config:
    return loads_config(CENTRE_YAML + extra, env={})


@pytest.fixture
def config() -> Config:
    return centre_config()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'omni.db'}"


class Clock:
    """A settable clock so offers and wrap-up can be timed out without sleeping."""

    def __init__(self, t: float = 1_800_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


async def start_omni(
    config: Config, engine: AsyncEngine, clock: Clock | None = None, *, http: bool = False
) -> tuple[Service, Omni, asyncio.Task[None]]:
    service = Service.from_config(config, clock=clock or Clock())
    omni = build(service, engine)
    if http:
        attach_http(service, port=0, routes=omni.routes())
    install(service, omni)
    task = asyncio.create_task(omni.component.run())
    await asyncio.wait_for(omni.intake.ready.wait(), 10)
    return service, omni, task


def http_app(service: Service) -> Starlette:
    """The app of the HTTP component `start_omni(http=True)` attached."""
    return next(c.app for c in service.components if isinstance(c, HttpComponent))


async def stop_omni(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


@pytest_asyncio.fixture
async def sqlite_engine(sqlite_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(sqlite_url)
    yield engine
    await engine.dispose()


@pytest_asyncio.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def any_engine(request: pytest.FixtureRequest, sqlite_url: str) -> AsyncIterator[AsyncEngine]:
    """An empty database of either kind (not migrated)."""
    if request.param == "sqlite":
        eng = create_async_engine(sqlite_url)
        yield eng
        await eng.dispose()
        return
    async with scratch_pg_engine("ccr_omni") as eng:
        yield eng


def login(service: Service, *agents: str) -> None:
    for a in agents:
        service.submit(ev.AgentLoggedIn(a))
