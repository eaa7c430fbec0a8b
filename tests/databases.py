"""Scratch databases for tests: a PostgreSQL schema of their own, dropped afterwards."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

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


@contextlib.asynccontextmanager
async def migrated_store(kind: str, tmp_path: Path, name: str) -> AsyncIterator[AsyncEngine]:
    """A migrated store engine on `kind` ("sqlite": a file in `tmp_path`; "postgres": a
    scratch schema through the service's own engine factory, pool settings included)."""
    from cc_router.store import migrate
    from cc_router.store.engine import open_engine

    if kind == "sqlite":
        engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / name}.db")
        await migrate(engine)
        try:
            yield engine
        finally:
            await engine.dispose()
        return
    async with scratch_schema(f"ccr_{name}") as schema:
        engine = open_engine(PG_URL, connect_args={"server_settings": {"search_path": schema}})
        await migrate(engine)
        try:
            yield engine
        finally:
            await engine.dispose()


async def _admin(sql: str) -> None:
    admin = create_async_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(sql))
    finally:
        await admin.dispose()


async def create_scratch_database(prefix: str) -> str:
    """A database of its own (for tests with several processes, which cannot share a
    search_path setting); returns its SQLAlchemy URL. Drop it with `drop_scratch_database`."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    await _admin(f'CREATE DATABASE "{name}"')
    return PG_URL.rsplit("/", 1)[0] + "/" + name


async def drop_scratch_database(url: str) -> None:
    await _admin(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


@contextlib.asynccontextmanager
async def scratch_database(prefix: str) -> AsyncIterator[str]:
    url = await create_scratch_database(prefix)
    try:
        yield url
    finally:
        await drop_scratch_database(url)
