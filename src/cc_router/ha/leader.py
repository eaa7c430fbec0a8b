"""Who may route: one leader per store, the others stand by.

With PostgreSQL, leadership is a session advisory lock held on a connection of its own.
The lock is lost only when that PostgreSQL session ends; a slow answer is not a lost lock.

The leader pings the lock connection every `ping_s`. The AMI outbox asks `may_send()`
before every write; it answers yes only while the lock connection is open and the last
answered ping was *sent* less than `lease_s` ago (= ping_s + ping_timeout_s, 3 s by
default). A ping not answered within `ping_timeout_s` is slow, not lost: it is never
cancelled (cancelling asyncpg mid-query is what turned a stalled event loop into a lost
lock), the leader keeps waiting for it with its outbox closed by the clock once the lease
has run out, and goes on when the answer comes. It steps down only when the session is
really gone: the connection closed or broken (an error from the ping, asyncpg's
termination callback), or no answer for `server_timeout_s`, by which time the server has
dropped the session itself (below).

Why two routers never send at once. A standby can take the lock only once the server
has ended the leader's session. Let t be the last moment the server heard from the
leader; every answered ping was sent at or before t, so the leader's lease ends by
t + lease_s. The server ends the session:
- at once when the leader's process dies (its kernel closes the socket): nothing to fence;
- at once on pg_terminate_backend or a server restart: the socket's end reaches the
  leader's loop, and `may_send` reads the connection's state synchronously, so the very
  next write (the outbox flushes on a later loop pass than the one that read the end) is
  refused, even if the loop had stalled meanwhile; a standby still has to poll (poll_s),
  restore and log in to Asterisk before its first action;
- when the network between them is cut: no sooner than t + keepalive idle + 2 probes
  (`tcp_keepalives_*`, idle = lease_s - 1 rounded up, so ≥ lease_s + 1) or t + the TCP user
  timeout (≥ lease_s + 1) for a reply left unacknowledged, or t + `idle_session_timeout`;
- when the leader's process is frozen or its loop stalled (its kernel still answers
  keepalives): after `idle_session_timeout` = `server_timeout_s` (> 2 × lease_s), so a
  stall shorter than that keeps the lock and, shorter than about lease_s - ping_s, even
  the outbox open.
Every case ends the session after the lease, so a leader has stopped sending before a
standby can lead; a standby's take-over after a network cut or a freeze is bounded by
those same server timeouts (about lease_s + 1 to server_timeout_s, plus poll_s).
A SIGKILLed leader's lock is freed at once and a standby polling every `poll_s` takes
over within that.

With SQLite the store is a file on this machine: one process only, enforced by an flock
on a file beside the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import math
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
        ping_s: float = 0.5,
        ping_timeout_s: float = 2.5,
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
        # stale leader sending, since the lease runs on the clock, not on the ping task,
        # and a lock connection whose end was read is refused before any task has run.
        conn = self._conn
        return (
            self.role == "leader"
            and conn is not None
            and not conn.is_closed()
            and self._clock() - self._last_ok < self.lease_s
        )

    async def _open(self) -> asyncpg.Connection:
        settings = {
            **self._server_settings,
            "application_name": "cc-router leadership",
            "idle_session_timeout": str(int(self.server_timeout_s * 1000)),
            # A cut network is noticed no sooner than lease_s + 1 after the last word
            # from this leader (see the module doc), and not much later either.
            "tcp_keepalives_idle": str(max(1, math.ceil(self.lease_s) - 1)),
            "tcp_keepalives_interval": "1",
            "tcp_keepalives_count": "2",
            "tcp_user_timeout": str(int((math.ceil(self.lease_s) + 1) * 1000)),
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
            except (
                OSError,
                asyncpg.PostgresError,
                asyncpg.InterfaceError,
                asyncpg.InternalClientError,
                TimeoutError,
            ) as exc:
                # The table may not exist yet (leader still migrating) or the server is away;
                # or it dropped this standby's idle session while its loop stalled, which
                # asyncpg reports on the next query as an InternalClientError.
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
        lost = asyncio.ensure_future(self._lost.wait())
        try:
            while True:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.ping_s):
                        await asyncio.shield(lost)
                if self._lost.is_set() or conn.is_closed():
                    raise LeadershipLost("the leadership connection was closed")
                sent = self._clock()
                await self._answered(conn, sent, lost)
                self._last_ok = sent
        except LeadershipLost as exc:
            self.role = "fenced"
            log.error("leadership_lost", reason=str(exc))
            await self._drop()
            raise
        finally:
            lost.cancel()

    async def _answered(self, conn: asyncpg.Connection, sent: float, lost: asyncio.Future[Any]) -> None:
        """Wait for one ping's answer however late; raise LeadershipLost only once the
        session is gone (closed, broken, or silent so long the server has dropped it)."""
        ping = asyncio.ensure_future(self._ping(conn))
        slow = False
        try:
            while True:
                waited = self._clock() - sent
                limit = self.ping_timeout_s if not slow else self.server_timeout_s
                done, _ = await asyncio.wait(
                    (ping, lost), timeout=max(0.0, limit - waited), return_when=asyncio.FIRST_COMPLETED
                )
                if ping in done:
                    exc = ping.exception()
                    if exc is None:
                        if slow:
                            log.info("leadership_ping_answered", after_s=round(self._clock() - sent, 3))
                        return
                    # Whatever the error (a closed socket, the server's FATAL on a
                    # terminated session, which asyncpg may report as an
                    # InternalClientError), the session can no longer be vouched for.
                    raise LeadershipLost(f"leadership ping failed: {type(exc).__name__}: {exc}")
                if lost in done or conn.is_closed():
                    raise LeadershipLost("the leadership connection was closed")
                if not slow:
                    # Still leading: the lock is the session's, and the session is there
                    # until the server says otherwise. The lease closes the outbox meanwhile.
                    slow = True
                    log.warning("leadership_ping_slow", waited_s=round(self._clock() - sent, 3))
                    continue
                raise LeadershipLost(
                    f"no answer from PostgreSQL for {self.server_timeout_s:g} s: "
                    "the server has dropped the session"
                )
        finally:
            if not ping.done():
                ping.cancel()

    async def _ping(self, conn: asyncpg.Connection) -> object:
        return await conn.fetchval("SELECT 1")

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
