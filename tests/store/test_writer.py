from __future__ import annotations

import asyncio
import socket
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from cc_router.core.events import (
    AgentLoggedIn,
    InteractionArrived,
    InteractionEnded,
    InteractionHeld,
    InteractionResumed,
    OfferAccepted,
)
from cc_router.core.router import Router
from cc_router.core.spec import AgentSpec, CentreSpec, ProfileSpec, QueueSpec
from cc_router.store import StoreWriter, migrate
from cc_router.store.tables import agent_states, decisions, interactions, utc
from tests.databases import PG_URL, pg_engine_for
from tests.store.factories import T0, finished, offer, state


def _count_commits(engine: AsyncEngine) -> list[int]:
    commits = [0]

    @event.listens_for(engine.sync_engine, "commit")
    def _on_commit(conn: Any) -> None:
        commits[0] += 1

    return commits


@pytest.mark.asyncio
async def test_round_trip_from_the_router(engine: AsyncEngine) -> None:
    centre = CentreSpec(
        skills=frozenset({"zh"}),
        profiles={"voice": ProfileSpec("voice")},
        agents=(AgentSpec("a1", skills={"zh": 5}),),
        queues=(QueueSpec("zh", requirement="zh"),),
    )
    router = Router(centre)
    writer = StoreWriter("unused://", engine=engine, flush_interval_s=0.01)
    writer.start()
    steps: list[tuple[object, float]] = [
        (AgentLoggedIn("a1"), T0),
        (InteractionArrived("c1", "zh", caller="张伟"), T0 + 1),
        (OfferAccepted("c1", "a1"), T0 + 4),
        (InteractionHeld("c1"), T0 + 10),
        (InteractionResumed("c1"), T0 + 22.5),
        (InteractionEnded("c1", "resolved"), T0 + 64),
    ]
    for e, now in steps:
        writer.submit(router.handle(e, now), now)  # type: ignore[arg-type]
    await writer.close()
    assert writer.backlog == 0 and writer.healthy
    async with engine.connect() as conn:
        row = (await conn.execute(select(interactions))).mappings().one()
        assert row["interaction_id"] == "c1" and row["caller"] == "张伟"
        assert row["outcome"] == "answered" and row["agent_id"] == "a1"
        assert row["enqueued_at"] == utc(T0 + 1) and row["answered_at"] == utc(T0 + 4)
        assert row["ended_at"].tzinfo is not None
        assert row["wait_s"] == pytest.approx(3.0) and row["talk_s"] == pytest.approx(60.0)
        assert row["hold_s"] == pytest.approx(12.5)
        assert row["disposition"] == "resolved"
        assert row["explanation"]["chosen"] == "a1"
        dec = (await conn.execute(select(decisions))).mappings().one()
        assert dec["interaction_id"] == "c1" and dec["at"] == utc(T0 + 1)
        assert dec["explanation"]["candidates"][0][0] == "a1"
        states = (
            await conn.execute(
                select(agent_states.c.state, agent_states.c.started_at, agent_states.c.ended_at).order_by(
                    agent_states.c.started_at, agent_states.c.id
                )
            )
        ).all()
    assert [s for s, _, _ in states] == ["ready", "reserved", "busy", "ready"]
    assert states[0][1] == utc(T0) and states[0][2] == utc(T0 + 1)
    assert states[-1][2] is None  # the current interval is kept open


@pytest.mark.asyncio
async def test_chinese_callers_round_trip(engine: AsyncEngine) -> None:
    names = ["王小明", "李娜（洛阳）", "欧阳·慧", "😀 emoji 客户"]
    writer = StoreWriter("unused://", engine=engine)
    writer.submit([finished(f"c{i}", caller=n) for i, n in enumerate(names)], T0)
    await writer.close()
    async with engine.connect() as conn:
        got = (await conn.execute(select(interactions.c.caller).order_by(interactions.c.id))).scalars().all()
    assert got == names


@pytest.mark.asyncio
async def test_many_commands_few_transactions(engine: AsyncEngine) -> None:
    writer = StoreWriter("unused://", engine=engine, batch_size=500, flush_interval_s=0.05)
    commits = _count_commits(engine)
    cmds = [finished(f"c{i}") for i in range(2000)] + [offer(f"c{i}", n=i) for i in range(500)]
    writer.submit(cmds, T0)
    assert writer.backlog == 2500  # submit only buffers
    await writer.close()
    assert commits[0] == 5
    async with engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(interactions))).scalar() == 2000
        assert (await conn.execute(select(func.count()).select_from(decisions))).scalar() == 500


@pytest.mark.asyncio
async def test_agent_intervals_close_across_batches(engine: AsyncEngine) -> None:
    writer = StoreWriter("unused://", engine=engine, batch_size=2)
    writer.submit([state("a1", "ready", T0, "logged_out", 0.0)], T0)
    writer.submit([state("a1", "paused", T0 + 10, "ready", T0, "lunch")], T0 + 10)
    await writer.flush()
    writer.submit([state("a1", "ready", T0 + 70, "paused", T0 + 10)], T0 + 70)
    # A second writer (a restart) learns which intervals are open from the database.
    await writer.flush()
    again = StoreWriter("unused://", engine=engine)
    again.submit([state("a1", "logged_out", T0 + 100, "ready", T0 + 70)], T0 + 100)
    await again.flush()
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(
                    agent_states.c.state,
                    agent_states.c.reason,
                    agent_states.c.started_at,
                    agent_states.c.ended_at,
                ).order_by(agent_states.c.started_at)
            )
        ).all()
    assert [(s, r) for s, r, _, _ in rows] == [
        ("ready", ""),
        ("paused", "lunch"),
        ("ready", ""),
        ("logged_out", ""),
    ]
    assert [(a.timestamp() - T0, None if b is None else b.timestamp() - T0) for _, _, a, b in rows] == [
        (0, 10),
        (10, 70),
        (70, 100),
        (100, None),
    ]


@pytest.mark.asyncio
async def test_sqlite_locked_then_free_loses_nothing(tmp_path: Path) -> None:
    db = tmp_path / "locked.db"
    await migrate(f"sqlite+aiosqlite:///{db}")
    # Another process holding an exclusive lock: every write fails with "database is locked".
    locker = sqlite3.connect(db, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    writer = StoreWriter(f"sqlite+aiosqlite:///{db}?timeout=0.05", batch_size=100, flush_interval_s=0.01)
    writer.start()
    writer.submit([finished(f"c{i}") for i in range(250)], T0)
    for _ in range(200):
        await asyncio.sleep(0.02)
        if not writer.healthy:
            break
    assert not writer.healthy
    writer.submit([finished(f"late{i}") for i in range(10)], T0)
    assert writer.backlog == 260
    locker.execute("COMMIT")
    locker.close()
    await writer.close(timeout=30)
    assert writer.healthy and writer.backlog == 0
    check = sqlite3.connect(db)
    try:
        assert check.execute("select count(distinct interaction_id) from interactions").fetchone() == (260,)
    finally:
        check.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


async def _proxy(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
    server_r, server_w = await asyncio.open_connection("127.0.0.1", 5432)
    await asyncio.gather(_pipe(client_r, server_w), _pipe(server_r, client_w))


@pytest.mark.postgres
@pytest.mark.asyncio
async def test_postgres_down_then_up_loses_nothing() -> None:
    """PostgreSQL reached through a port nobody listens on, then through a proxy that
    starts listening there: the same writer and engine, a real outage and recovery."""
    schema = f"ccr_store_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(PG_URL)
    async with admin.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    port = _free_port()
    eng = pg_engine_for(schema, f"postgresql+asyncpg://postgres@127.0.0.1:{port}/test")
    server: asyncio.Server | None = None
    try:
        direct = pg_engine_for(schema)
        await migrate(direct)
        await direct.dispose()
        writer = StoreWriter("unused://", engine=eng, batch_size=100, flush_interval_s=0.01)
        writer.start()
        writer.submit([finished(f"c{i}", caller="洛阳客户") for i in range(300)], T0)
        for _ in range(200):
            await asyncio.sleep(0.02)
            if not writer.healthy:
                break
        assert not writer.healthy and writer.backlog == 300
        server = await asyncio.start_server(_proxy, "127.0.0.1", port)
        await writer.close(timeout=60)
        assert writer.healthy and writer.backlog == 0
        async with admin.connect() as conn:
            n = await conn.execute(
                text(f'select count(distinct interaction_id) from "{schema}".interactions')
            )
            assert n.scalar() == 300
    finally:
        await eng.dispose()
        if server is not None:
            server.close()
        async with admin.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()


@pytest.mark.asyncio
async def test_submit_ignores_commands_it_does_not_store(sqlite_url: str) -> None:
    from cc_router.core.commands import CancelOffer

    writer = StoreWriter(sqlite_url)
    writer.submit([CancelOffer("o1", "c1", "a1", "timeout")], T0)
    assert writer.backlog == 0
    await writer.close()


@pytest.mark.asyncio
async def test_flushes_at_once_write_each_row_once(engine: AsyncEngine) -> None:
    """The interval job flushes while the writer's own loop flushes: neither writes a row
    twice nor pops rows the other wrote (seen once as "pop from an empty deque")."""
    writer = StoreWriter("unused://", engine=engine, batch_size=7, flush_interval_s=0.01)
    writer.submit([finished(f"c{i}", enqueued_at=T0 + i) for i in range(40)], T0 + 100)
    writer.start()
    await asyncio.gather(writer.flush(), writer.flush(), writer.flush())
    writer.submit([finished("late", enqueued_at=T0 + 50)], T0 + 101)
    await asyncio.gather(writer.flush(), writer.close())
    assert writer.backlog == 0 and writer.healthy
    async with engine.connect() as conn:
        ids = [r.interaction_id for r in await conn.execute(select(interactions.c.interaction_id))]
    assert sorted(ids) == sorted([f"c{i}" for i in range(40)] + ["late"])


@pytest.mark.asyncio
async def test_a_steady_stream_is_written_once_an_interval_not_a_transaction_each(
    engine: AsyncEngine,
) -> None:
    """Commands arriving while a flush runs wait for the next interval: a flush that went
    on until the buffer was empty ran back-to-back one-command transactions under load."""
    writer = StoreWriter("unused://", engine=engine, batch_size=500, flush_interval_s=0.1)
    commits = _count_commits(engine)
    writer.start()
    loop = asyncio.get_running_loop()
    started = loop.time()
    n = 0
    while loop.time() - started < 1.0:
        writer.submit([finished(f"s{n}")], T0)
        n += 1
        await asyncio.sleep(0.001)
    elapsed = loop.time() - started
    await writer.close()
    # At most one transaction per interval (each waits an interval for company), plus the
    # closing one; each transaction commits once.
    assert commits[0] <= elapsed / 0.1 + 2, (commits[0], n)
    async with engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(interactions))).scalar() == n
