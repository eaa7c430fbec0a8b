"""Real Asterisk sandbox + cc-router in-process (cc_router.testing.live)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from cc_router.sandbox import SandboxSettings, SandboxStatus
from cc_router.testing.live import AmiAdmin, LiveService, running
from tests.asterisk.conftest import sandbox, sandbox_settings

__all__ = ["sandbox", "sandbox_settings"]

CENTRE = """
skills: [zh, en]
agents:
  - {id: ea1, skills: {zh: 5}}
  - {id: ea2, skills: {zh: 5, en: 5}}
  - {id: ea3, skills: {en: 5}}
queues:
  - {name: q_zh, requirement: zh, ring_timeout_s: 3, wrapup_s: 1}
  - {name: q_en, requirement: en, ring_timeout_s: 3, wrapup_s: 1}
numbers:
  "20086": {queue: q_zh, attributes: {line: mobile}}
  "20087": {queue: q_en}
routing: {max_misses: 1, offer_grace_s: 2}
"""


CALLER_PREFIX = "1380000"
"""Every e2e caller number starts with this; agent legs are Local/ea*: the sandbox may be
shared with other tests and benchmarks, whose channels are left alone."""


def mine(ch: dict[str, str]) -> bool:
    return ch.get("CallerIDNum", "").startswith(CALLER_PREFIX) or ch.get("Channel", "").startswith("Local/ea")


@pytest_asyncio.fixture
async def admin(sandbox: SandboxStatus, sandbox_settings: SandboxSettings) -> AsyncIterator[AmiAdmin]:
    a = await AmiAdmin(sandbox_settings).connect()
    await a.hangup_all(mine)  # leftovers of an earlier test must not show up as callers
    await a.wait_no_channels(match=mine)
    for agent in ("ea1", "ea2", "ea3"):
        await a.sim_agent(agent, ring=1, talk=1, answer="1")
    yield a
    with contextlib.suppress(Exception):  # a test may have restarted Asterisk under it
        await a.hangup_all(mine)
    await a.close()


@pytest_asyncio.fixture
async def live(
    admin: AmiAdmin, sandbox_settings: SandboxSettings, tmp_path: Path
) -> AsyncIterator[LiveService]:
    async with running(CENTRE, sandbox_settings, tmp_path / "e2e.db") as svc:
        yield svc


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.asterisk)
