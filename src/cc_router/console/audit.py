"""`AuditLog`: supervisor actions written to the `audit` table and read back for the API.

A row is written before the action's answer goes out, so an acknowledged action is always
in the table (also when the router is killed right after). Rows of actions taken at the
same moment (a shift's 500 logins) go in one INSERT on one connection: one transaction
per burst instead of one per action, so a burst cannot empty the store's shared pool.

A row the store does not take within `wait_s` (store down, pool exhausted) makes `record`
raise, and the caller answers 503 and logs the action; the row itself stays queued and is
retried until it is stored. Nothing is dropped without a log line: rows still queued when
the service stops are logged as `audit_rows_not_stored` with who did what.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import structlog
from sqlalchemy import exc as sa_exc
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from cc_router.console.tables import AuditRow
from cc_router.store.tables import utc

log = structlog.get_logger("cc_router.audit")

MAX_LIST = 1000
BATCH = 500
"""Rows per INSERT; one statement (below SQLAlchemy's 1,000-row page), so all or none."""
MAX_QUEUED = 100_000
"""Rows kept while the store is down; past this an action's row is refused at once."""


class AuditAction(StrEnum):
    PAUSE = "pause"
    UNPAUSE = "unpause"
    LOGIN = "login"
    LOGOUT = "logout"
    SKILLS = "skills"
    MOVE = "move"
    PRIORITY = "priority"
    QUEUE = "queue"
    RELOAD = "reload"
    LISTEN = "listen"
    MONITOR_MODE = "monitor_mode"
    MONITOR_END = "monitor_end"
    PLAYBACK = "playback"


class TargetKind(StrEnum):
    AGENT = "agent"
    INTERACTION = "interaction"
    QUEUE = "queue"
    CONFIG = "config"


@dataclass(frozen=True)
class AuditEntry:
    user: str
    role: str
    action: AuditAction
    kind: TargetKind
    target: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    reason: str | None = None
    client: str = ""


@dataclass(frozen=True)
class AuditQuery:
    limit: int = 100
    action: str | None = None
    target_kind: str | None = None
    target: str | None = None
    user: str | None = None
    since: float | None = None


def _public(row: Any) -> dict[str, Any]:
    at: datetime = row.at
    return {
        "id": row.id,
        "at": at.timestamp(),
        "at_iso": at.isoformat(),
        "user": row.user_name,
        "role": row.role,
        "action": row.action,
        "target_kind": row.target_kind,
        "target": row.target,
        "reason": row.reason,
        "before": row.before,
        "after": row.after,
        "client": row.client,
    }


class AuditLog:
    def __init__(
        self,
        engine: AsyncEngine,
        clock: Callable[[], float] = time.time,
        *,
        wait_s: float = 10.0,
        max_backoff_s: float = 5.0,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.wait_s = wait_s
        self.max_backoff_s = max_backoff_s
        self._queued: deque[tuple[dict[str, Any], asyncio.Future[int]]] = deque()
        self._writer: asyncio.Task[None] | None = None
        self.stored = 0
        self.transactions = 0
        self.healthy = True
        self.last_error = ""

    @property
    def backlog(self) -> int:
        return len(self._queued)

    async def record(self, entry: AuditEntry) -> int:
        """The row's id once it is committed. Raises (an SQLAlchemy error) when it is not
        committed within `wait_s`; the row is kept and retried all the same."""
        if len(self._queued) >= MAX_QUEUED:
            log.error("audit_row_refused", backlog=len(self._queued), **_who(entry))
            raise sa_exc.TimeoutError(f"{len(self._queued)} audit rows wait for the store; not queued")
        done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._queued.append((self._row(entry), done))
        if self._writer is None:
            self._writer = asyncio.create_task(self._write_all(), name="audit-writer")
        try:
            async with asyncio.timeout(self.wait_s):
                return await asyncio.shield(done)
        except TimeoutError:
            why = self.last_error or "the store is slow"
            raise sa_exc.TimeoutError(
                f"audit row not stored within {self.wait_s:g} s ({why}); it is kept and retried"
            ) from None

    def _row(self, entry: AuditEntry) -> dict[str, Any]:
        return {
            "at": utc(self.clock()),
            "user_name": entry.user[:128],
            "role": entry.role,
            "action": entry.action.value,
            "target_kind": entry.kind.value,
            "target": entry.target[:128],
            "reason": None if entry.reason is None else entry.reason[:256],
            "before": entry.before,
            "after": entry.after,
            "client": entry.client[:64],
        }

    async def _write_all(self) -> None:
        """Until the queue is empty: the oldest rows in one INSERT, retried with backoff."""
        backoff = 0.05
        try:
            while self._queued:
                batch = [self._queued[i] for i in range(min(BATCH, len(self._queued)))]
                try:
                    ids = await self._insert([row for row, _ in batch])
                except Exception as exc:  # any driver error: keep the rows, retry
                    self.healthy = False
                    self.last_error = f"{type(exc).__name__}: {exc}"[:300]
                    log.warning(
                        "audit_write_failed",
                        backlog=len(self._queued),
                        retry_in_s=backoff,
                        error=self.last_error,
                    )
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, self.max_backoff_s)
                    continue
                for _ in batch:
                    self._queued.popleft()
                for (_, done), row_id in zip(batch, ids, strict=True):
                    if not done.done():
                        done.set_result(row_id)
                self.stored += len(batch)
                if not self.healthy:
                    log.warning("audit_writable_again", backlog=len(self._queued))
                self.healthy, self.last_error, backoff = True, "", 0.05
        finally:
            self._writer = None
            if self._queued:  # cancelled at shutdown with the store still refusing
                log.error(
                    "audit_rows_not_stored",
                    count=len(self._queued),
                    rows=[_brief(row) for row, _ in list(self._queued)[:100]],
                )

    async def _insert(self, rows: list[dict[str, Any]]) -> list[int]:
        async with self.engine.begin() as conn:
            result = await conn.execute(
                insert(AuditRow).returning(AuditRow.id, sort_by_parameter_order=True), rows
            )
            ids = [int(i) for i in result.scalars()]
        self.transactions += 1
        return ids

    async def rows(self, q: AuditQuery) -> list[dict[str, Any]]:
        """Newest first."""
        stmt = select(AuditRow.__table__).order_by(AuditRow.id.desc()).limit(min(q.limit, MAX_LIST))
        if q.action:
            stmt = stmt.where(AuditRow.action == q.action)
        if q.target_kind:
            stmt = stmt.where(AuditRow.target_kind == q.target_kind)
        if q.target:
            stmt = stmt.where(AuditRow.target == q.target)
        if q.user:
            stmt = stmt.where(AuditRow.user_name == q.user)
        if q.since is not None:
            stmt = stmt.where(AuditRow.at >= utc(q.since))
        async with self.engine.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        return [_public(r) for r in rows]


def _who(entry: AuditEntry) -> dict[str, str]:
    return {"user": entry.user, "action": entry.action.value, "target": f"{entry.kind.value}:{entry.target}"}


def _brief(row: dict[str, Any]) -> str:
    return f"{row['at'].isoformat()} {row['user_name']} {row['action']} {row['target_kind']}:{row['target']}"
