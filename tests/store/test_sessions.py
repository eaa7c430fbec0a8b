"""Agent sessions and queue changes in the store, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from cc_router.store.sessions import AgentSession, QueueOverride, SessionStore
from tests.store.factories import T0


@pytest.mark.asyncio
async def test_sessions_round_trip_and_stored_waits_for_the_commit(engine: AsyncEngine) -> None:
    store = SessionStore(engine)
    runner = asyncio.create_task(store.run())
    try:
        store.put(AgentSession("1001", "ready", "", T0, None, None))
        store.put(AgentSession("1002", "paused", "午饭", T0 + 1.25, 600.0, {"billing": 3}))
        store.put(AgentSession("1001", "paused", "break", T0 + 2, None, None))  # the latest wins
        store.put(QueueOverride("billing", 5, ((30.0, "billing >= 1", 2),)))
        assert store.pending > 0
        assert await store.stored(timeout_s=5)
        assert store.pending == 0
        agents, queues = await SessionStore(engine).load()
        assert sorted(agents, key=lambda a: a.agent_id) == [
            AgentSession("1001", "paused", "break", T0 + 2, None, None),
            AgentSession("1002", "paused", "午饭", T0 + 1.25, 600.0, {"billing": 3}),
        ]
        assert queues == [QueueOverride("billing", 5, ((30.0, "billing >= 1", 2),))]

        store.clear_live_changes()
        store.put(AgentSession("1003", "ready", "", T0 + 3, None, {"sales": 1}))
        assert await store.stored(timeout_s=5)
        agents, queues = await SessionStore(engine).load()
        assert queues == []
        assert {a.agent_id: a.skills for a in agents} == {"1001": None, "1002": None, "1003": {"sales": 1}}
    finally:
        runner.cancel()


@pytest.mark.asyncio
async def test_stored_says_false_while_the_store_is_down(tmp_path: object) -> None:
    from sqlalchemy.ext.asyncio import create_async_engine

    # No schema at all: every write fails, the change stays buffered, the caller is told.
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path}/empty.db")
    store = SessionStore(engine, max_backoff_s=0.05)
    runner = asyncio.create_task(store.run())
    try:
        store.put(AgentSession("1001", "ready", "", T0, None, None))
        assert not await store.stored(timeout_s=0.3)
        assert not store.healthy and "agent_sessions" in store.last_error
        assert store.pending == 1
    finally:
        runner.cancel()
        await engine.dispose()


@pytest.mark.asyncio
async def test_unawaited_changes_are_gathered_and_an_awaited_one_goes_at_once(
    engine: AsyncEngine,
) -> None:
    store = SessionStore(engine, gather_s=0.6)
    runner = asyncio.create_task(store.run())
    try:
        await asyncio.sleep(0.05)
        for i in range(5):  # what calls ending do: nobody waits for these
            store.put(AgentSession(f"20{i}", "ready", "", T0 + i, None, None))
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.2)
        assert store.commits == 0 and store.pending == 5
        async with asyncio.timeout(3):
            while store.pending:
                await asyncio.sleep(0.02)
        assert store.commits == 1  # five changes, one transaction

        # A login waits for its change: it is written at once, not after the gathering.
        store.put(AgentSession("300", "ready", "", T0, None, None))
        await asyncio.sleep(0.05)
        t0 = asyncio.get_running_loop().time()
        store.put(AgentSession("301", "paused", "break", T0, None, None))
        assert await store.stored(timeout_s=5)
        assert asyncio.get_running_loop().time() - t0 < 0.4
        assert store.commits == 2 and store.pending == 0
    finally:
        runner.cancel()
