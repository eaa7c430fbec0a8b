"""Alembic migrations for the store, runnable from code: `await migrate(url)`."""

from __future__ import annotations

import threading
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

HERE = Path(__file__).resolve().parent
# Alembic keeps its `op` and `context` in module globals: two upgrades running at once in one
# process interfere with each other, so they take turns.
_LOCK = threading.Lock()


def alembic_config(url: str = "") -> Config:
    cfg = Config(str(HERE.parent / "alembic.ini"))
    cfg.set_main_option("script_location", str(HERE))
    if url:
        # ConfigParser treats % as interpolation; URLs may carry %-escaped passwords.
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def _upgrade(connection: Connection, revision: str) -> None:
    cfg = alembic_config()
    cfg.attributes["connection"] = connection
    with _LOCK:
        command.upgrade(cfg, revision)


async def migrate(url_or_engine: str | AsyncEngine, revision: str = "head") -> None:
    """Upgrade the database to `revision` (head by default)."""
    if isinstance(url_or_engine, AsyncEngine):
        engine, owned = url_or_engine, False
    else:
        engine, owned = create_async_engine(url_or_engine), True
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_upgrade, revision)
    finally:
        if owned:
            await engine.dispose()


__all__ = ["alembic_config", "migrate"]
