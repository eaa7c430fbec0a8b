"""The one way the service opens a store engine, so every pool gets the same SQLite tuning.

SQLite's defaults (a rollback journal, `synchronous=FULL`) create, sync and delete a
journal file on every commit: several fsyncs and most of the store thread's CPU per
transaction. Write-ahead logging with `synchronous=NORMAL` appends to one file and syncs at
checkpoints; a committed transaction still survives the process being killed (only a power
cut can take the last ones, which the router's own journal holds too, store/journal.py),
and readers (`cc-router report`, a second tool) no longer block the writer.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine


def open_engine(url: str, **options: Any) -> AsyncEngine:
    """`create_async_engine` with the store's SQLite settings applied to each connection."""
    engine = create_async_engine(url, **options)
    u = make_url(url)
    if u.get_backend_name() == "sqlite" and u.database and u.database != ":memory:":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()
