"""Scratch databases for tests: a PostgreSQL schema of their own, dropped afterwards."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


def pg_engine_for(schema: str, url: str = PG_URL) -> AsyncEngine:
    # asyncpg takes the search_path as a server setting, not as a URL option.
    return create_async_engine(url, connect_args={"server_settings": {"search_path": schema}})


@contextlib.asynccontextmanager
async def scratch_schema(prefix: str) -> AsyncIterator[str]:
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(PG_URL)
    async with admin.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield schema
    finally:
        async with admin.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()


@contextlib.asynccontextmanager
async def scratch_pg_engine(prefix: str) -> AsyncIterator[AsyncEngine]:
    async with scratch_schema(prefix) as schema:
        engine = pg_engine_for(schema)
        try:
            yield engine
        finally:
            await engine.dispose()
