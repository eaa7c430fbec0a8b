"""The task store's SQL: updates batched into one statement per set of columns, kept when
the store refuses them and logged (never dropped quietly) if it still refuses at shutdown,
and an insert that meets a dead pooled connection retried on a fresh one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from structlog.testing import capture_logs

from cc_router.omni.task_store import TaskStore
from cc_router.store import migrate
from cc_router.store.engine import open_engine
from cc_router.store.omni_tables import tasks
from tests.databases import PG_URL, migrated_store, scratch_schema
from tests.store.test_engine_pools import kill_pooled

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    async with migrated_store(request.param, tmp_path, "tasks") as eng:
        yield eng


async def insert_many(store: TaskStore, n: int) -> list[str]:
    ids = [f"chat-{i}" for i in range(n)]
    for tid in ids:
        assert await store.insert(tid, "chat", "chat_zh", 0, "客户", "http", {"task_id": tid})
    return ids


async def statuses(engine: AsyncEngine) -> dict[str, tuple[str, str | None]]:
    async with engine.connect() as conn:
        rows = await conn.execute(select(tasks.c.task_id, tasks.c.status, tasks.c.agent_id))
        return {r.task_id: (r.status, r.agent_id) for r in rows}


async def test_a_batch_of_updates_is_one_statement_per_set_of_columns(engine: AsyncEngine) -> None:
    store = TaskStore(engine)
    ids = await insert_many(store, 300)
    for n, tid in enumerate(ids):
        if n % 2:
            store.update(tid, 1.0e9, status="connected", agent_id=f"a{n}")
        else:
            store.update(tid, 1.0e9, status="completed")
    store.update(ids[0], 1.0e9 + 1, status="exited")  # later change of one task wins
    await store.flush()
    assert store.statements == 2
    assert store.updates_written == 300
    got = await statuses(engine)
    assert got[ids[0]] == ("exited", None)
    assert got[ids[1]] == ("connected", "a1")
    assert got[ids[2]] == ("completed", None)
    assert sum(1 for s, _ in got.values() if s == "connected") == 150


async def test_refused_updates_are_kept_and_logged_at_shutdown(tmp_path: Path) -> None:
    # A store whose table is missing refuses every update, as one that is down would.
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")
    try:
        store = TaskStore(engine)
        store.update("chat-1", 1.0e9, status="completed", disposition="已解决")
        with pytest.raises(Exception, match="no such table"):
            await store.flush()
        assert store._pending["chat-1"]["status"] == "completed"  # kept for the next try
        with capture_logs() as logs:
            await store.close(timeout=2.0)
        [line] = [entry for entry in logs if entry["event"] == "task_updates_not_stored"]
        assert line["log_level"] == "error"
        assert line["count"] == 1
        assert line["updates"]["chat-1"]["disposition"] == "已解决"
    finally:
        await engine.dispose()


async def test_stored_updates_log_nothing_at_shutdown(engine: AsyncEngine) -> None:
    store = TaskStore(engine)
    [tid] = await insert_many(store, 1)
    store.update(tid, 1.0e9, status="completed")
    with capture_logs() as logs:
        await store.close(timeout=5.0)
    assert not [entry for entry in logs if entry["event"] == "task_updates_not_stored"]
    assert (await statuses(engine))[tid] == ("completed", None)


@pytest.mark.postgres
async def test_insert_on_a_dead_pooled_connection_is_retried() -> None:
    async with scratch_schema("ccr_tasks") as schema:
        engine = open_engine(PG_URL, connect_args={"server_settings": {"search_path": schema}})
        try:
            await migrate(engine)
            store = TaskStore(engine)
            await insert_many(store, 1)
            await kill_pooled(engine)
            with capture_logs() as logs:
                assert await store.insert("chat-after", "chat", "chat_zh", 0, "客户", "http", {"a": 1})
            assert [
                entry["attempt"] for entry in logs if entry["event"] == "task_insert_connection_lost"
            ] == [1]
            async with engine.connect() as conn:
                n = (
                    await conn.execute(text("SELECT count(*) FROM tasks WHERE task_id = 'chat-after'"))
                ).scalar()
            assert n == 1
            # An identical id is still refused (False), not mistaken for our own retry.
            assert not await store.insert("chat-after", "chat", "chat_zh", 0, "客户", "http", {"a": 1})
        finally:
            await engine.dispose()
