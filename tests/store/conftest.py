"""Store fixtures: a fresh SQLite file, or a PostgreSQL schema dropped afterwards."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


def pg_engine_for(schema: str, url: str = PG_URL) -> AsyncEngine:
    # asyncpg takes the search_path as a server setting, not as a URL option.
    return create_async_engine(url, connect_args={"server_settings": {"search_path": schema}})


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
    schema = f"ccr_store_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(PG_URL)
    async with admin.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield schema
    finally:
        async with admin.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()


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
    schema = f"ccr_store_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(PG_URL)
    async with admin.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    eng = pg_engine_for(schema)
    try:
        await migrate(eng)
        yield eng
    finally:
        await eng.dispose()
        async with admin.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()
