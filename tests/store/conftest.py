"""Store fixtures: a fresh SQLite file, or a PostgreSQL schema dropped afterwards."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from tests.databases import pg_engine_for, scratch_pg_engine, scratch_schema


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"


@pytest_asyncio.fixture
async def sqlite_engine(sqlite_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(sqlite_url)
    yield engine
    await engine.dispose()


@pytest_asyncio.fixture
async def pg_schema() -> AsyncIterator[str]:
    async with scratch_schema("ccr_store") as schema:
        yield schema


@pytest_asyncio.fixture
async def pg_engine(pg_schema: str) -> AsyncIterator[AsyncEngine]:
    engine = pg_engine_for(pg_schema)
    yield engine
    await engine.dispose()


@pytest_asyncio.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def engine(request: pytest.FixtureRequest, sqlite_url: str) -> AsyncIterator[AsyncEngine]:
    """The same test on both databases, already migrated to head."""
    from cc_router.store import migrate

    if request.param == "sqlite":
        eng = create_async_engine(sqlite_url)
        await migrate(eng)
        yield eng
        await eng.dispose()
        return
    async with scratch_pg_engine("ccr_store") as eng:
        await migrate(eng)
        yield eng
