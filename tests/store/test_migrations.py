from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from cc_router.store import migrate
from cc_router.store.tables import Base


def _diff(conn: Connection) -> list[object]:
    ctx = MigrationContext.configure(conn, opts={"compare_type": True})
    return list(compare_metadata(ctx, Base.metadata))


def _tables(conn: Connection) -> set[str]:
    return set(inspect(conn).get_table_names())


@pytest.mark.asyncio
async def test_migration_creates_exactly_the_model(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        assert await conn.run_sync(_diff) == []
        assert await conn.run_sync(_tables) == set(Base.metadata.tables) | {"alembic_version"}


@pytest.mark.asyncio
async def test_migrate_again_is_a_no_op(engine: AsyncEngine) -> None:
    await migrate(engine)
    async with engine.connect() as conn:
        assert await conn.run_sync(_diff) == []


@pytest.mark.asyncio
async def test_migrate_from_url(sqlite_url: str) -> None:
    from sqlalchemy.ext.asyncio import create_async_engine

    await migrate(sqlite_url)
    eng = create_async_engine(sqlite_url)
    try:
        async with eng.connect() as conn:
            assert await conn.run_sync(_diff) == []
    finally:
        await eng.dispose()
