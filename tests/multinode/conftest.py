"""Two real Asterisk nodes side by side (cc-router sandbox up --nodes 2) and one router.

Callers are SIPp on either node; agents are simulated (`Local/<id>@ccr-sim-agent`) on
their own node: m1* in pool p1 on node 1, m2* in pool p2 on node 2.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from cc_router.sandbox import SandboxError, SandboxSettings, ensure_sipp, status
from cc_router.sandbox import down as sandbox_down
from cc_router.sandbox.nodes import settings_of, up_nodes
from cc_router.testing.live import AmiAdmin, LiveService
from cc_router.testing.multinode import nodes_config

CENTRE = """
skills: [zh, en]
agents:
  - {id: m11, pool: p1, skills: {zh: 5}}
  - {id: m21, pool: p2, skills: {zh: 5}}
  - {id: m22, pool: p2, skills: {zh: 5}}
queues:
  - {name: mq_zh, requirement: zh, ring_timeout_s: 3, wrapup_s: 0}
  - {name: mq_en, requirement: en, ring_timeout_s: 3}
numbers:
  "30086": {queue: mq_zh}
  "30087": {queue: mq_en}
routing: {max_misses: 1, offer_grace_s: 2}
"""

CALLER_PREFIX = "1390000"
AGENTS = ("m11", "m21", "m22")


def mine(ch: dict[str, str]) -> bool:
    name = ch.get("Channel", "")
    return (
        ch.get("CallerIDNum", "").startswith(CALLER_PREFIX)
        or name.startswith(("Local/m1", "Local/m2", "Local/agent@ccr-trunk-out"))
        or name.startswith("PJSIP/ccr-trunk-node")
    )


@pytest.fixture(scope="session")
def nodes() -> Iterator[list[SandboxSettings]]:
    if os.geteuid() != 0:
        pytest.skip("the Asterisk sandbox needs root")
    both = settings_of(2)
    was_running = all(status(s).running for s in both)
    try:
        up_nodes(2)
        ensure_sipp()
    except SandboxError as exc:
        pytest.fail(f"Asterisk sandbox: {exc}")
    yield both
    if not was_running:
        sandbox_down(both[0])


async def steer(admin: AmiAdmin, **keys: float | str) -> None:
    for agent in AGENTS:
        await admin.sim_agent(agent, **keys)  # type: ignore[arg-type]


@pytest_asyncio.fixture
async def admins(nodes: list[SandboxSettings]) -> AsyncIterator[list[AmiAdmin]]:
    out = [await AmiAdmin(s).connect() for s in nodes]
    for a in out:
        await a.hangup_all(mine)
        await a.wait_no_channels(match=mine)
        await steer(a, ring=1, talk=1, answer="1")
    yield out
    for a in out:
        with contextlib.suppress(Exception):  # a test may have killed its node
            await a.hangup_all(mine)
            await a.close()


def make_live(nodes: list[SandboxSettings], tmp_path: Path, **kw: float | int | None) -> LiveService:
    url = f"sqlite+aiosqlite:///{tmp_path / 'multi.db'}"
    return LiveService(nodes_config(CENTRE, nodes, store_url=url, **kw))  # type: ignore[arg-type]


@pytest_asyncio.fixture
async def live(
    admins: list[AmiAdmin], nodes: list[SandboxSettings], tmp_path: Path
) -> AsyncIterator[LiveService]:
    svc = make_live(nodes, tmp_path)
    await svc.start()
    yield svc
    await svc.stop()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/multinode/" in str(item.fspath):
            item.add_marker(pytest.mark.asterisk)
