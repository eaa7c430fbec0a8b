"""`cc-router run` SIGKILLed beside the real Asterisk with a caller waiting and both agents
paused, then started again: the agents are back in their pauses with their time in state,
the caller is found on hold, and when one pause runs out at its original maximum that
agent serves the caller, with nobody logging in again."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from cc_router.ha.leader import asyncpg_dsn
from cc_router.sandbox import SandboxSettings
from cc_router.testing.live import AmiAdmin, call, kill_all, wait_until
from tests.databases import create_scratch_database, drop_scratch_database
from tests.e2e.conftest import CENTRE
from tests.ha.processes import Router, act, agent, free_port, ready

pytestmark = [pytest.mark.asterisk, pytest.mark.asyncio]

TOKEN = "ha-test-token"


def _config(tmp: Path, settings: SandboxSettings, name: str = "centre.yaml") -> Path:
    path = tmp / name
    path.write_text(
        CENTRE
        + f"""
asterisk:
  - name: sandbox
    host: 127.0.0.1
    port: {settings.ami_port}
    username: {settings.ami_user}
    secret: "{settings.ami_secret}"
    ping_interval_s: 1
    ping_timeout_s: 1
    reconnect_max_s: 2
http: {{host: 127.0.0.1, port: {free_port()}, token: {TOKEN}}}
store: {{flush_interval_s: 30}}
""",
        encoding="utf-8",
    )
    return path


async def test_sigkill_with_a_caller_waiting_and_agents_paused(
    admin: AmiAdmin, sandbox_settings: SandboxSettings, tmp_path: Path
) -> None:
    config = _config(tmp_path, sandbox_settings)
    url = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    first = Router(config, url, tmp_path / "first.log").start()
    caller = None
    try:
        base = first.url()
        ready(base, timeout_s=30)
        for aid, body in (("ea1", {"reason": "meeting", "max_s": 14}), ("ea2", {"reason": "lunch"})):
            assert act(base, "POST", f"/api/agents/{aid}/login").status_code == 200
            assert act(base, "POST", f"/api/agents/{aid}/pause", body).status_code == 200
        paused_at = time.time()
        before = {aid: agent(base, aid) for aid in ("ea1", "ea2")}
        dialled = time.time()
        caller = await call(sandbox_settings, "20086", 60000, num="13800000901")
        first.wait_log("queued", timeout_s=15)
        # The hold stamped the caller's arrival on its channel, to the millisecond.
        (ch,) = [c for c in await admin.channels() if c.get("CallerIDNum") == "13800000901"]
        reply = await admin.action({"Action": "Getvar", "Channel": ch["Channel"], "Variable": "CCR_ARRIVED"})
        stamped = reply["Value"]
        assert "." in stamped and len(stamped.split(".")[1]) == 3
        assert dialled - 1 < float(stamped) < time.time()
        first.kill()

        again = Router(config, url, tmp_path / "again.log").start()
        try:
            base = again.url()
            ready(base, timeout_s=30)
            for aid in ("ea1", "ea2"):
                now = agent(base, aid)
                assert (now["state"], now["reason"]) == (before[aid]["state"], before[aid]["reason"])
                assert now["state_since"] == pytest.approx(before[aid]["state_since"], abs=1e-5)
            assert again.wait_log("queued", timeout_s=10)
            # ea1's pause ends 14 s after it began, across the restart; it then takes the caller.
            await wait_until(
                lambda: any(ln.get("event") == "connected" for ln in again.lines()), 30, "caller connected"
            )
            connected_at = time.time()
            assert connected_at - paused_at >= 14 - 0.5
            assert agent(base, "ea2")["state"] == "paused"
            await wait_until(
                lambda: any(ln.get("event") == "finished" for ln in again.lines()), 20, "call finished"
            )
        finally:
            again.stop()
    finally:
        first.kill()
        if caller is not None:
            kill_all([caller])

    with sqlite3.connect(tmp_path / "store.db") as conn:
        rows = conn.execute("SELECT agent_id, outcome FROM interactions").fetchall()
        states = conn.execute(
            "SELECT state, reason FROM agent_states WHERE agent_id = 'ea1' ORDER BY started_at, id"
        ).fetchall()
    assert ("ea1", "answered") in rows
    # Journalled before the kill, written after: ready, paused (one interval through the
    # restart: the restored pause continues it), then on.
    assert states[:3] == [("ready", ""), ("paused", "meeting"), ("ready", "")]


@pytest.fixture
def pg_url() -> Iterator[str]:
    url = asyncio.run(create_scratch_database("ccr_e2e_failover"))
    try:
        yield url
    finally:
        asyncio.run(drop_scratch_database(url))


@pytest.mark.postgres
async def test_standby_takes_over_with_a_caller_waiting(
    admin: AmiAdmin, sandbox_settings: SandboxSettings, tmp_path: Path, pg_url: str
) -> None:
    leader = Router(_config(tmp_path, sandbox_settings, "a.yaml"), pg_url, tmp_path / "a.log").start()
    standby = Router(_config(tmp_path, sandbox_settings, "b.yaml"), pg_url, tmp_path / "b.log")
    caller = None
    try:
        a_url = leader.url()
        ready(a_url, timeout_s=30)
        standby.start()
        b_url = standby.url()
        assert ready(b_url, role="standby")["leader"] == a_url
        for aid, body in (("ea1", {"reason": "meeting", "max_s": 16}), ("ea2", {"reason": "lunch"})):
            assert act(a_url, "POST", f"/api/agents/{aid}/login").status_code == 200
            assert act(a_url, "POST", f"/api/agents/{aid}/pause", body).status_code == 200
        paused_at = time.time()
        caller = await call(sandbox_settings, "20086", 60000, num="13800000902")
        leader.wait_log("queued", timeout_s=15)

        killed = time.monotonic()
        leader.kill()
        ready(b_url, timeout_s=15)
        took_over_s = time.monotonic() - killed
        # Leader SIGKILL -> the standby routes (AMI logged in, snapshot read, sessions back).
        print(f"failover_to_routing_s={took_over_s:.3f}")
        assert took_over_s < 5
        assert standby.wait_log("queued", timeout_s=10)
        assert agent(b_url, "ea1")["reason"] == "meeting"
        await wait_until(
            lambda: any(ln.get("event") == "connected" for ln in standby.lines()), 30, "caller connected"
        )
        assert time.time() - paused_at >= 16 - 0.5
        await wait_until(
            lambda: any(ln.get("event") == "finished" for ln in standby.lines()), 20, "call finished"
        )
    finally:
        leader.kill()
        standby.stop()
        if caller is not None:
            kill_all([caller])
    conn = await asyncpg.connect(asyncpg_dsn(pg_url))
    try:
        rows = await conn.fetch("SELECT agent_id, outcome FROM interactions")
    finally:
        await conn.close()
    assert ("ea1", "answered") in [(r["agent_id"], r["outcome"]) for r in rows]
