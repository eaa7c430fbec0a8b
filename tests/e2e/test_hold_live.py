"""An agent's phone puts the connected caller on hold and takes it back (SIP re-INVITEs, as
a phone's hold key sends them): Asterisk plays music on hold on the caller's channel, and
the call's hold time reaches InteractionFinished and the store."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from cc_router.core import commands as cmd
from cc_router.core import events as ev
from cc_router.sandbox import SandboxSettings
from cc_router.testing.live import AmiAdmin, LiveService, call, free_udp_port, kill_all, running, wait_until

pytestmark = [pytest.mark.asterisk, pytest.mark.asyncio]

SIPP_DIR = Path(__file__).resolve().parents[1] / "sipp"
CENTRE = """
skills: [zh]
agents:
  - {id: eh1, skills: {zh: 5}, endpoint: PJSIP/agent-sip-1}
queues:
  - {name: q_hold, requirement: zh, ring_timeout_s: 5, wrapup_s: 0}
numbers:
  "20095": {queue: q_hold}
"""


@pytest_asyncio.fixture
async def held_live(
    admin: AmiAdmin, sandbox_settings: SandboxSettings, tmp_path: Path
) -> AsyncIterator[LiveService]:
    async with running(CENTRE, sandbox_settings, tmp_path / "hold.db") as svc:
        yield svc


async def test_the_agents_hold_is_the_calls_hold_time(
    held_live: LiveService, sandbox_settings: SandboxSettings
) -> None:
    live = held_live
    phone = await asyncio.create_subprocess_exec(
        "sipp", "-sf", str(SIPP_DIR / "agent_hold.xml"), "-i", "127.0.0.1",
        "-p", str(sandbox_settings.agent_sip_port(1)), "-mp", str(free_udp_port()),
        "-d", "500", "-m", "1", "-nostdin", sandbox_settings.sip,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL, cwd="/tmp",
    )  # fmt: skip
    caller = await call(sandbox_settings, "20095", 9000, num="13800000950")
    try:
        live.login("eh1")
        await wait_until(lambda: len(live.of(cmd.InteractionConnected)) == 1, 15, "connected")
        await wait_until(lambda: len(live.of(cmd.InteractionFinished)) == 1, 20, "finished")
        [finished] = live.of(cmd.InteractionFinished)
        iid = finished.interaction_id
        assert live.events_of(ev.InteractionHeld) == [ev.InteractionHeld(iid)]
        assert live.events_of(ev.InteractionResumed) == [ev.InteractionResumed(iid)]
        # The phone holds for 3 s of the about 8 s connected.
        assert 2.5 < finished.hold_s < 4.0, finished
        assert finished.talk_s > finished.hold_s + 2
        assert await asyncio.wait_for(phone.wait(), 15) == 0  # every SIP exchange as scripted
        await live.writer.flush()
        engine = create_async_engine(live.config.store.url)
        async with engine.connect() as conn:
            [stored] = (await conn.execute(sa.text("select hold_s from interactions"))).scalars().all()
        await engine.dispose()
        assert stored == pytest.approx(finished.hold_s)
    finally:
        kill_all([caller])
        if phone.returncode is None:
            phone.kill()
