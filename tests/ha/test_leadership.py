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


class _Stalling(PgLeadership):
    """Blocks its own event loop (time.sleep) right after a ping is sent: the answer is
    in the socket before the loop can read it, as in a loop starved by other work."""

    stall_s = 0.0

    async def _ping(self, conn: asyncpg.Connection) -> object:
        if self.stall_s:
            asyncio.get_running_loop().call_soon(time.sleep, self.stall_s)
            self.stall_s = 0.0
        return await super()._ping(conn)


@pytest.mark.asyncio
async def test_a_stalled_event_loop_is_a_slow_ping_not_a_lost_lock(db_url: str) -> None:
    # Production timings: a ping every 0.5 s, slow after 2.5 s, lease 3 s.
    a = _Stalling(asyncpg_dsn(db_url), lambda: "http://a", poll_s=0.1)
    b = _lead(db_url, "http://b")
    try:
        await asyncio.wait_for(a.acquire(), 5)
        hold = asyncio.create_task(a.hold())
        b_acquire = asyncio.create_task(b.acquire())
        await asyncio.sleep(0.8)
        a.stall_s = 2.0  # the next ping's answer waits 2 s for the loop (was: cancelled at 1.5 s)
        async with asyncio.timeout(5):
            while a.stall_s:
                await asyncio.sleep(0.05)
        await asyncio.sleep(2.5)
        assert not hold.done(), hold.exception() if hold.done() else None
        assert a.role == "leader" and a.may_send()
        assert b.role == "standby" and not b_acquire.done()
        # ... and a cut connection still ends it at once.
        assert a.lock_pid is not None
        await _terminate(db_url, a.lock_pid)
        with pytest.raises(LeadershipLost, match=r"closed|failed"):
            await asyncio.wait_for(hold, 5)
        assert not a.may_send()
        await asyncio.wait_for(b_acquire, 5)
    finally:
        await a.close()
        await b.close()


class _Silent(PgLeadership):
    """A ping that never comes back (a network black hole): no error, no answer."""

    silent = False

    async def _ping(self, conn: asyncpg.Connection) -> object:
        if self.silent:
            await asyncio.Event().wait()
        return await super()._ping(conn)


@pytest.mark.asyncio
async def test_a_ping_never_answered_closes_the_outbox_then_steps_down(db_url: str) -> None:
    a = _Silent(asyncpg_dsn(db_url), lambda: "http://a", ping_s=0.1, ping_timeout_s=0.2, server_timeout_s=1.0)
    try:
        await asyncio.wait_for(a.acquire(), 5)
        hold = asyncio.create_task(a.hold())
        await asyncio.sleep(0.3)
        a.silent = True
        went_silent = time.monotonic()
        async with asyncio.timeout(2):
            while a.may_send():
                await asyncio.sleep(0.01)
        fenced = time.monotonic() - went_silent
        with pytest.raises(LeadershipLost, match=r"no answer|closed"):
            await asyncio.wait_for(hold, 5)
        stepped_down = time.monotonic() - went_silent
        # The outbox closed on the lease (0.3 s), long before it gave up on the session.
        assert fenced <= a.lease_s + 0.05 < stepped_down
        assert stepped_down >= a.server_timeout_s - a.ping_s
    finally:
        await a.close()


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
