"""The store's engine factory on PostgreSQL: right-sized pools without a pre-ping, and a
connection the server has closed (a restart, an idle timeout) retried instead of failing."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from cc_router.store.engine import SERVER_POOL, is_disconnect, open_engine, retry_on_disconnect
from tests.databases import PG_URL, scratch_schema

pytestmark = [pytest.mark.asyncio, pytest.mark.postgres]


def engine_in(schema: str) -> AsyncEngine:
    return open_engine(PG_URL, connect_args={"server_settings": {"search_path": schema}})


@pytest_asyncio.fixture
async def engine() -> AsyncIterator[AsyncEngine]:
    async with scratch_schema("ccr_engine") as schema:
        eng = engine_in(schema)
        yield eng
        await eng.dispose()


async def kill_pooled(engine: AsyncEngine) -> int:
    """Terminate, from another connection, the server process behind the pooled one."""
    async with engine.connect() as conn:
        pid = int((await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one())
    admin = create_async_engine(PG_URL)
    try:
        async with admin.connect() as conn:
            await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        await admin.dispose()
    return pid


async def test_server_pool_is_sized_and_does_not_ping(engine: AsyncEngine) -> None:
    pool = engine.pool
    assert pool.size() == SERVER_POOL["pool_size"]  # type: ignore[attr-defined]
    assert pool._max_overflow == SERVER_POOL["max_overflow"]  # type: ignore[attr-defined]
    assert pool._pre_ping is False
    own = open_engine(PG_URL, pool_size=3, max_overflow=0)
    try:
        assert own.pool.size() == 3  # type: ignore[attr-defined]
    finally:
        await own.dispose()


async def test_a_dead_pooled_connection_is_retried_on_a_fresh_one(engine: AsyncEngine) -> None:
    killed = await kill_pooled(engine)
    tries = 0

    async def pid() -> int:
        nonlocal tries
        tries += 1
        async with engine.connect() as conn:
            return int((await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one())

    # Without the retry the first statement on the dead connection fails: proved by hand.
    assert await retry_on_disconnect(pid, "test") != killed
    assert tries == 2


async def test_without_retry_the_dead_connection_fails_as_a_disconnect(engine: AsyncEngine) -> None:
    await kill_pooled(engine)
    with pytest.raises(DBAPIError) as e:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    assert is_disconnect(e.value)


async def test_other_errors_are_not_retried(engine: AsyncEngine) -> None:
    tries = 0

    async def bad() -> None:
        nonlocal tries
        tries += 1
        async with engine.connect() as conn:
            await conn.execute(text("SELECT * FROM no_such_table"))

    with pytest.raises(DBAPIError) as e:
        await retry_on_disconnect(bad, "test")
    assert not is_disconnect(e.value)
    assert tries == 1
