"""The one way the service opens a store engine: every pool gets the same SQLite tuning and
the same sizing on a server database, and a dead connection is retried, not pinged for.

SQLite's defaults (a rollback journal, `synchronous=FULL`) create, sync and delete a
journal file on every commit: several fsyncs and most of the store thread's CPU per
transaction. Write-ahead logging with `synchronous=NORMAL` appends to one file and syncs at
checkpoints; a committed transaction still survives the process being killed (only a power
cut can take the last ones, which the router's own journal holds too, store/journal.py),
and readers (`cc-router report`, a second tool) no longer block the writer.

On PostgreSQL no pool pre-pings. With asyncpg a ping is a transaction of its own (BEGIN,
`;`, ROLLBACK): three round trips before every checkout's own work, and under load each
round trip waits a turn of the busy event loop while the connection stays checked out, so
the pool empties ("QueuePool limit ... reached") long before PostgreSQL is busy. A
connection that died (a server restart) fails its first statement instead; SQLAlchemy then
invalidates it and every pooled connection older than the failure, and the few writes that
must not fail on that go through `retry_on_disconnect`. The writers that keep what they
could not write (store writer, task updates, sessions) simply retry their batch.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import structlog
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

log = structlog.get_logger("cc_router.store.engine")

T = TypeVar("T")

SERVER_POOL: dict[str, Any] = {"pool_size": 15, "max_overflow": 5}
"""The store's shared pool on a server database (writer, task store, accounts, audit,
sessions, desktop). Mostly kept connections: an overflow connection is closed when it is
returned, and the next burst pays asyncpg's connect and type introspection again."""


def open_engine(url: str, **options: Any) -> AsyncEngine:
    """`create_async_engine` with the store's settings: SQLite pragmas on each connection,
    `SERVER_POOL` sizing on a server database unless `options` size the pool."""
    u = make_url(url)
    sqlite = u.get_backend_name() == "sqlite"
    if not sqlite and "poolclass" not in options:
        options = {**SERVER_POOL, **options}
    engine = create_async_engine(url, **options)
    if sqlite and u.database and u.database != ":memory:":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def is_disconnect(exc: BaseException) -> bool:
    """The statement failed because its connection was dead (SQLAlchemy has invalidated it)."""
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


async def retry_on_disconnect(op: Callable[[], Awaitable[T]], what: str, tries: int = 3) -> T:
    """Run `op` (which checks out its own connection), again on a fresh connection when it
    failed on a dead one. Any other error, or the last try's, goes to the caller."""
    for attempt in range(1, tries + 1):
        try:
            return await op()
        except DBAPIError as exc:
            if not is_disconnect(exc) or attempt == tries:
                raise
            log.warning(
                "sql_connection_lost_retrying", what=what, attempt=attempt, error=type(exc.orig).__name__
            )
    raise AssertionError("unreachable")  # pragma: no cover


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()
