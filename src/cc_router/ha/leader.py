"""Who may route: one leader per store, the others stand by.

With PostgreSQL, leadership is a session advisory lock held on a connection of its own.
The leader pings that connection every `ping_s`; the AMI outbox asks `may_send()` before
every write, and it answers yes only while the last successful ping is younger than
`lease_s` (= ping_s + ping_timeout_s). The lock connection carries an
`idle_session_timeout` of `server_timeout_s` (> 2 × lease_s), so a leader whose pings
stop (frozen, cut off) has closed its own outbox before the server drops its session and
frees the lock, and a standby only then can take it: two routers never originate at once.
A SIGKILLed leader's socket is closed by its kernel, the lock is freed at once, and a
standby polling every `poll_s` takes over within that.

With SQLite the store is a file on this machine: one process only, enforced by an flock
on a file beside the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import socket
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Protocol

import asyncpg
import structlog
from sqlalchemy.engine import make_url

log = structlog.get_logger("cc_router.ha")


class LeadershipLost(Exception):
    """The leader can no longer prove it holds the lock: it has stopped sending and must step down."""


class AlreadyRunning(Exception):
    """Another cc-router process uses this SQLite store."""


class Leadership(Protocol):
    role: str
    """"leader", "standby" or "starting"."""
    leader_address: str

    def may_send(self) -> bool: ...

    async def acquire(self) -> None:
        """Return once this process leads."""

    async def hold(self) -> None:
        """Run while leading; raise LeadershipLost when that can no longer be proved."""

    async def close(self) -> None: ...


class SingleProcess:
    """SQLite (or any store on this machine): an exclusive flock on `<database>.lock`."""

    def __init__(self, lock_path: Path | None) -> None:
        self.lock_path = lock_path
        self.role = "starting"
        self.leader_address = ""
        self._file: IO[str] | None = None

    def may_send(self) -> bool:
        return self.role == "leader"

    async def acquire(self) -> None:
        if self.lock_path is not None:
            f = self.lock_path.open("a+")
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                f.seek(0)
                holder = f.read().strip() or "another process"
                f.close()
                raise AlreadyRunning(
                    f"the SQLite store {self.lock_path.with_suffix('')} is in use by {holder}; "
                    "SQLite allows one cc-router at a time (use a PostgreSQL store to run a standby)"
                ) from None
            f.seek(0)
            f.truncate()
            f.write(f"cc-router pid {os.getpid()} on {socket.gethostname()}\n")
            f.flush()
            self._file = f
        self.role = "leader"

    async def hold(self) -> None:
        await asyncio.Event().wait()

    async def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def sqlite_lock_path(url: str) -> Path | None:
    db = make_url(url).database
    if not db or db == ":memory:" or db.startswith("file:"):
        return None
    return Path(db).resolve().with_name(Path(db).name + ".lock")


def asyncpg_dsn(url: str) -> str:
    u = make_url(url)
    return u.set(drivername="postgresql", query={}).render_as_string(hide_password=False)


class PgLeadership:
    def __init__(
        self,
        dsn: str,
        address: Callable[[], str],
        *,
        poll_s: float = 0.5,
        ping_s: float = 1.0,
        ping_timeout_s: float = 1.5,
        server_timeout_s: float | None = None,
        connect: Callable[..., Any] = asyncpg.connect,
        server_settings: dict[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.dsn = dsn
        self.address = address
        self.poll_s = poll_s
        self.ping_s = ping_s
        self.ping_timeout_s = ping_timeout_s
        self.lease_s = ping_s + ping_timeout_s
        self.server_timeout_s = server_timeout_s or max(2 * self.lease_s + 1.0, 2.0)
        self._connect = connect
        self._server_settings = server_settings or {}
        self._clock = clock
        self.role = "starting"
        self.leader_address = ""
        self.lock_key: int | None = None
        self.lock_pid: int | None = None
        """The lock connection's backend pid (what `pg_terminate_backend` would take)."""
        self._conn: asyncpg.Connection | None = None
        self._last_ok = float("-inf")
        self._lost = asyncio.Event()

    def may_send(self) -> bool:
        # Checked on every AMI write, synchronously: a starved event loop cannot keep a
        # stale leader sending, since the lease runs on the clock, not on the ping task.
        return self.role == "leader" and self._clock() - self._last_ok < self.lease_s

    async def _open(self) -> asyncpg.Connection:
        settings = {
            **self._server_settings,
            "application_name": "cc-router leadership",
            "idle_session_timeout": str(int(self.server_timeout_s * 1000)),
            "tcp_keepalives_idle": "1",
            "tcp_keepalives_interval": "1",
            "tcp_keepalives_count": "2",
        }
        conn: asyncpg.Connection = await self._connect(
            self.dsn, server_settings=settings, timeout=max(2.0, self.server_timeout_s)
        )
        return conn

    async def acquire(self) -> None:
        while True:
            conn = self._conn
            try:
                if conn is None or conn.is_closed():
                    conn = self._conn = await self._open()
                    self.lock_key = int(
                        await conn.fetchval(
                            "SELECT hashtext('cc-router/' || current_database() || '/' || current_schema())"
                        )
                    )
                    self.lock_pid = int(await conn.fetchval("SELECT pg_backend_pid()"))
                got = await conn.fetchval("SELECT pg_try_advisory_lock($1::bigint)", self.lock_key)
                if got:
                    self._last_ok = self._clock()
                    conn.add_termination_listener(lambda _c: self._lost.set())
                    await self._announce(conn)
                    self.role = "leader"
                    log.info("leadership_acquired", lock_key=self.lock_key, address=self.leader_address)
                    return
                self.role = "standby"
                address = await conn.fetchval(
                    "SELECT address FROM router_leader WHERE lock_key = $1", self.lock_key
                )
                if address != self.leader_address:
                    log.info("standing_by", leader=address)
                self.leader_address = address or ""
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
                # The table may not exist yet (leader still migrating) or the server is away.
                if isinstance(exc, asyncpg.UndefinedTableError):
                    self.role = "standby"
                else:
                    log.warning("leadership_poll_failed", error=f"{type(exc).__name__}: {exc}")
                    await self._drop()
            await asyncio.sleep(self.poll_s)

    async def _announce(self, conn: asyncpg.Connection) -> None:
        self.leader_address = self.address()
        with contextlib.suppress(asyncpg.UndefinedTableError):
            # Before the first migration the table is not there yet; the store's start
            # writes it again (see `announce`).
            await self.announce(conn)

    async def announce(self, conn: asyncpg.Connection | None = None) -> None:
        conn = conn or self._conn
        if conn is None:
            return
        self.leader_address = self.address()
        await conn.execute(
            "INSERT INTO router_leader (lock_key, address, host, pid, since) VALUES ($1, $2, $3, $4, $5) "
            "ON CONFLICT (lock_key) DO UPDATE SET address = EXCLUDED.address, host = EXCLUDED.host, "
            "pid = EXCLUDED.pid, since = EXCLUDED.since",
            self.lock_key,
            self.leader_address,
            socket.gethostname(),
            os.getpid(),
            datetime.now(UTC),
        )

    async def hold(self) -> None:
        conn = self._conn
        assert conn is not None and self.role == "leader"
        try:
            while True:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.ping_s):
                        await self._lost.wait()
                if self._lost.is_set() or conn.is_closed():
                    raise LeadershipLost("the leadership connection was closed")
                try:
                    async with asyncio.timeout(self.ping_timeout_s):
                        await conn.fetchval("SELECT 1")
                except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
                    raise LeadershipLost(f"leadership ping failed: {type(exc).__name__}: {exc}") from None
                self._last_ok = self._clock()
        except LeadershipLost as exc:
            self.role = "fenced"
            log.error("leadership_lost", reason=str(exc))
            await self._drop()
            raise

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            conn.terminate()

    async def close(self) -> None:
        if self.role == "leader":
            self.role = "stopped"
        await self._drop()


__all__ = [
    "AlreadyRunning",
    "Leadership",
    "LeadershipLost",
    "PgLeadership",
    "SingleProcess",
    "asyncpg_dsn",
    "sqlite_lock_path",
]
