"""Two `cc-router run` processes on one PostgreSQL store: one leads, the other stands by
(HTTP up, /readyz naming the leader, control actions refused with its address). The
leader SIGKILLed: the standby takes over with the agents as they were. A leader whose
lock connection is cut steps down and comes back as a standby."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from cc_router.ha.leader import asyncpg_dsn
from tests.databases import create_scratch_database, drop_scratch_database
from tests.ha.processes import Router, act, agent, ready, write_config

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_url() -> Iterator[str]:
    url = asyncio.run(create_scratch_database("ccr_failover"))
    try:
        yield url
    finally:
        asyncio.run(drop_scratch_database(url))


async def _cut_lock_connection(url: str) -> int:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        pid = await conn.fetchval(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        )
        assert pid is not None
        assert await conn.fetchval("SELECT pg_terminate_backend($1)", pid)
        return int(pid)
    finally:
        await conn.close()


def test_standby_takes_over_after_sigkill_and_a_cut_leader_steps_down(tmp_path: Path, pg_url: str) -> None:
    a = Router(write_config(tmp_path, name="a.yaml"), pg_url, tmp_path / "a.log").start()
    b: Router | None = None
    c: Router | None = None
    try:
        a_url = a.url()
        ready(a_url)
        b = Router(write_config(tmp_path, name="b.yaml"), pg_url, tmp_path / "b.log").start()
        b_url = b.url()
        body = ready(b_url, role="standby")
        assert body["leader"] == a_url and body["ready"] is False

        assert act(a_url, "POST", "/api/agents/1001/login").status_code == 200
        assert act(a_url, "POST", "/api/agents/1002/login").status_code == 200
        assert act(a_url, "POST", "/api/agents/1002/pause", {"reason": "coaching"}).status_code == 200
        refused = act(b_url, "POST", "/api/agents/1003/login")
        assert refused.status_code == 503
        assert refused.json()["leader"] == a_url and refused.json()["role"] == "standby"
        # Authorisation still comes first on a standby.
        assert act(b_url, "POST", "/api/agents/1003/login").status_code == 503
        assert httpx.post(f"{b_url}/api/agents/1003/login", timeout=5).status_code == 401
        before = {aid: agent(a_url, aid) for aid in ("1001", "1002")}

        killed = time.monotonic()
        a.kill()
        ready(b_url, timeout_s=10)
        took_over_s = time.monotonic() - killed
        assert took_over_s < 5
        for aid, was in before.items():
            now = agent(b_url, aid)
            assert (now["state"], now["reason"]) == (was["state"], was["reason"])
            assert now["state_since"] == pytest.approx(was["state_since"], abs=1e-5)

        # A third process stands by behind b; then b's lock connection is cut.
        c = Router(write_config(tmp_path, name="c.yaml"), pg_url, tmp_path / "c.log").start()
        c_url = c.url()
        assert ready(c_url, role="standby")["leader"] == b_url
        mark = len(b.lines())
        asyncio.run(_cut_lock_connection(pg_url))
        lost = b.wait_log("leadership_lost", after=mark, timeout_s=5)
        assert "closed" in lost["reason"] or "ping" in lost["reason"]
        ready(c_url, timeout_s=10)
        # b started again in the same process, as a standby naming c.
        assert ready(b_url, role="standby", timeout_s=20)["leader"] == c_url
        assert b.proc.poll() is None
        assert agent(c_url, "1002")["reason"] == "coaching"
    finally:
        for r in (a, b, c):
            if r is not None:
                r.stop()
