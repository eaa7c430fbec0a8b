"""Leadership on a PostgreSQL advisory lock: one leads, the other stands by naming it; a
leader whose lock connection is cut stops sending at once and the standby takes over;
a leader that cannot ping fences itself on the clock. SQLite allows one process."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
import pytest_asyncio

from cc_router.ha.leader import AlreadyRunning, LeadershipLost, PgLeadership, SingleProcess, asyncpg_dsn
from cc_router.store import migrate
from tests.databases import scratch_database

pytestmark = pytest.mark.postgres


@pytest_asyncio.fixture
async def db_url() -> AsyncIterator[str]:
    async with scratch_database("ccr_ha") as url:
        await migrate(url)
        yield url


def _lead(url: str, address: str, **kw: float) -> PgLeadership:
    return PgLeadership(asyncpg_dsn(url), lambda: address, poll_s=0.1, ping_s=0.2, ping_timeout_s=0.3, **kw)


async def _terminate(url: str, pid: int) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        assert await conn.fetchval("SELECT pg_terminate_backend($1)", pid)
    finally:
        await conn.close()


@pytest.mark.asyncio
async def test_standby_names_the_leader_and_takes_over_when_its_connection_is_cut(db_url: str) -> None:
    a, b = _lead(db_url, "http://a:8080"), _lead(db_url, "http://b:8080")
    try:
        await asyncio.wait_for(a.acquire(), 5)
        assert a.role == "leader" and a.may_send()
        b_acquire = asyncio.create_task(b.acquire())
        async with asyncio.timeout(5):
            while b.leader_address != "http://a:8080":
                await asyncio.sleep(0.05)
        assert b.role == "standby" and not b.may_send() and not b_acquire.done()

        hold = asyncio.create_task(a.hold())
        await asyncio.sleep(0.3)
        assert a.lock_pid is not None
        cut = time.monotonic()
        await _terminate(db_url, a.lock_pid)
        with pytest.raises(LeadershipLost):
            await asyncio.wait_for(hold, 5)
        stepped_down = time.monotonic() - cut
        assert not a.may_send() and a.role == "fenced"
        await asyncio.wait_for(b_acquire, 5)
        took_over = time.monotonic() - cut
        assert b.role == "leader" and b.may_send()
        # The old leader had stopped before the new one could start.
        assert stepped_down < took_over
        conn = await asyncpg.connect(asyncpg_dsn(db_url))
        try:
            assert await conn.fetchval("SELECT address FROM router_leader") == "http://b:8080"
        finally:
            await conn.close()
    finally:
        await a.close()
        await b.close()


@pytest.mark.asyncio
async def test_outbox_closes_on_the_clock_when_pings_stop(db_url: str) -> None:
    now = [1000.0]
    a = _lead(db_url, "http://a", clock=lambda: now[0])
    try:
        await asyncio.wait_for(a.acquire(), 5)
        assert a.may_send()
        # The event loop stalls (no ping runs): the lease runs out by itself.
        now[0] += a.lease_s + 0.01
        assert not a.may_send()
        assert a.server_timeout_s > 2 * a.lease_s
    finally:
        await a.close()


@pytest.mark.asyncio
async def test_server_frees_the_lock_of_a_leader_that_stopped_pinging(db_url: str) -> None:
    """A frozen leader (no pings) loses the lock to the server's idle timeout, after its
    own outbox has closed: the standby's wait is longer than the leader's lease."""
    a = _lead(db_url, "http://a", server_timeout_s=1.0)
    b = _lead(db_url, "http://b")
    try:
        await asyncio.wait_for(a.acquire(), 5)
        started = time.monotonic()
        await asyncio.wait_for(b.acquire(), 10)  # a never pings: nothing calls a.hold()
        waited = time.monotonic() - started
        assert waited >= 1.0 > a.lease_s
        assert not a.may_send()
    finally:
        await a.close()
        await b.close()


@pytest.mark.asyncio
async def test_second_process_on_one_sqlite_store_is_refused(tmp_path: Path) -> None:
    lock = tmp_path / "store.db.lock"
    first, second = SingleProcess(lock), SingleProcess(lock)
    await first.acquire()
    with pytest.raises(AlreadyRunning, match="SQLite allows one cc-router at a time"):
        await second.acquire()
    await first.close()
    await second.acquire()  # free again once the first is gone
    assert second.may_send()
    await second.close()
    with contextlib.suppress(Exception):
        lock.unlink()


@pytest.mark.asyncio
async def test_a_service_stopped_in_process_frees_its_sqlite_store_for_the_next(tmp_path: Path) -> None:
    # A service run, cancelled and built again in the same process (benchmarks, embedding)
    # must take the store's lock again, not find its own earlier run still holding it.
    from cc_router.config import loads_config
    from cc_router.wiring import build

    url = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    text = "skills: [zh]\nagents: [{id: a1, skills: {zh: 1}}]\nqueues: [{name: q, requirement: zh}]\n"
    for _ in range(2):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        config = loads_config(text + f"http: {{port: {port}}}\n", source="<test>")
        built = build(config, store_url_override=url)
        runner = asyncio.create_task(built.service.run())
        async with asyncio.timeout(20):
            while not built.service.routing:
                assert not runner.done(), runner.exception()
                await asyncio.sleep(0.05)
        assert built.leader.may_send()
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner
