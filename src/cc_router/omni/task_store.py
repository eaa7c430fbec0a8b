"""Tasks in SQL: the insert that makes a task durable (awaited before anyone is told it is
accepted), and batched status updates written by their own task, never by the router.

Each call holds a pooled connection for as few round trips as it can: the insert and the
reads run without a transaction, and a batch of updates is one statement per set of
columns (executemany), not one round trip per task; on a busy event loop every round
trip is a turn of it with the connection checked out."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from cc_router.store.engine import is_disconnect
from cc_router.store.omni_tables import UNFINISHED, tasks

log = structlog.get_logger("cc_router.omni.tasks")

_MUTABLE = frozenset({"queue", "status", "agent_id", "disposition"})


@dataclass(frozen=True, slots=True)
class StoredTask:
    task_id: str
    channel: str
    queue: str
    priority: int
    customer: str
    source: str
    status: str
    agent_id: str | None
    disposition: str
    payload: Mapping[str, Any]
    created_at: datetime

    def public(self) -> dict[str, Any]:
        return {
            "task_id": self.task_id,
            "channel": self.channel,
            "queue": self.queue,
            "priority": self.priority,
            "customer": self.customer,
            "source": self.source,
            "status": self.status,
            "agent_id": self.agent_id,
            "disposition": self.disposition,
            "created_at": self.created_at.isoformat(),
            "subject": self.payload.get("subject", ""),
            "body": self.payload.get("body", ""),
            "attributes": self.payload.get("attributes", {}),
        }


def _stored(row: Any) -> StoredTask:
    return StoredTask(
        task_id=row.task_id,
        channel=row.channel,
        queue=row.queue,
        priority=row.priority,
        customer=row.customer,
        source=row.source,
        status=row.status,
        agent_id=row.agent_id,
        disposition=row.disposition,
        payload=row.payload,
        created_at=row.created_at,
    )


class TaskStore:
    def __init__(
        self, engine: AsyncEngine, flush_interval_s: float = 0.2, max_backoff_s: float = 30.0
    ) -> None:
        self.engine = engine
        self._bare = engine.execution_options(isolation_level="AUTOCOMMIT")
        """The same pool, without a transaction: for one statement, atomic on its own."""
        self.flush_interval_s = flush_interval_s
        self.max_backoff_s = max_backoff_s
        self._pending: dict[str, dict[str, Any]] = {}
        self._flushing = asyncio.Lock()
        """One flush at a time: a flush asked for while the writer's is in flight waits for
        it to commit, so "flushed" means written."""
        """task_id -> columns to set; later updates of one task overwrite earlier ones."""
        self._wake = asyncio.Event()
        self._closing = False
        self.healthy = True
        self.updates_written = 0
        self.statements = 0
        """UPDATE statements (executemany) sent by flushes."""

    # ------------------------------------------------------------ awaited by intake

    async def insert(
        self,
        task_id: str,
        channel: str,
        queue: str,
        priority: int,
        customer: str,
        source: str,
        payload: Mapping[str, Any],
    ) -> bool:
        """Commit a new task; False when the id exists already (nothing written)."""
        now = datetime.now(UTC)
        row = {
            "task_id": task_id,
            "channel": channel,
            "queue": queue,
            "priority": priority,
            "customer": customer,
            "source": source,
            "status": "queued",
            "agent_id": None,
            "disposition": "",
            "payload": dict(payload),
            "created_at": now,
            "updated_at": now,
            "finished_at": None,
        }
        # One statement needs no transaction: no BEGIN and COMMIT round trips on the path of
        # every chat start and e-mail taken in. A dead pooled connection (no pre-ping:
        # store/engine.py) fails the first try; the next gets a fresh one. If the failed
        # try had committed before its connection went, the retry meets our own row.
        for attempt in (1, 2, 3):
            try:
                async with self._bare.connect() as conn:
                    await conn.execute(tasks.insert(), [row])
            except IntegrityError:
                return attempt > 1 and await self._is_ours(task_id, row)
            except Exception as exc:
                if not is_disconnect(exc) or attempt == 3:
                    raise
                log.warning("task_insert_connection_lost", task_id=task_id, attempt=attempt)
                continue
            return True
        raise AssertionError("unreachable")  # pragma: no cover

    async def _is_ours(self, task_id: str, row: Mapping[str, Any]) -> bool:
        stored = await self.get(task_id)
        return (
            stored is not None and stored.payload == row["payload"] and stored.created_at == row["created_at"]
        )

    async def get(self, task_id: str) -> StoredTask | None:
        async with self._bare.connect() as conn:
            row = (await conn.execute(select(tasks).where(tasks.c.task_id == task_id))).first()
        if row is None:
            return None
        stored = _stored(row)
        # Updates not yet flushed are newer than the row.
        fresh = self._pending.get(task_id)
        if fresh:
            stored = replace(stored, **{k: v for k, v in fresh.items() if k in _MUTABLE})
        return stored

    async def unfinished(self) -> list[StoredTask]:
        """Tasks accepted but not finished, oldest first: they go back to the router."""
        async with self._bare.connect() as conn:
            rows = await conn.execute(
                select(tasks).where(tasks.c.status.in_(UNFINISHED)).order_by(tasks.c.created_at)
            )
            return [_stored(r) for r in rows]

    # ------------------------------------------------------------ from the routing loop

    def update(self, task_id: str, at: float, **columns: Any) -> None:
        """Queue a status change; never touches the database."""
        cols = self._pending.setdefault(task_id, {})
        cols.update(columns)
        cols["updated_at"] = datetime.fromtimestamp(at, tz=UTC)
        self._wake.set()

    # ------------------------------------------------------------ the writer task

    async def run(self) -> None:
        backoff = 0.1
        while True:
            if not self._pending:
                if self._closing:
                    return
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(1.0):
                        await self._wake.wait()
                self._wake.clear()
                # Let a burst of changes collapse into one transaction.
                await asyncio.sleep(self.flush_interval_s)
                continue
            try:
                await self.flush()
            except Exception as exc:  # any driver error: keep the updates, retry later
                self.healthy = False
                log.warning(
                    "task_update_failed",
                    error=f"{type(exc).__name__}: {exc}",
                    retry_in_s=backoff,
                    backlog=len(self._pending),
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff_s)
                continue
            self.healthy = True
            backoff = 0.1

    async def flush(self) -> None:
        async with self._flushing:
            await self._flush()

    async def _flush(self) -> None:
        if not self._pending:
            return
        batch = self._pending
        self._pending = {}
        # Tasks changing the same columns share one statement, sent with all their rows at once.
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for task_id, cols in batch.items():
            groups.setdefault(tuple(sorted(cols)), []).append({"_task_id": task_id, **cols})
        try:
            async with self.engine.begin() as conn:
                for names, rows in groups.items():
                    stmt = (
                        update(tasks)
                        .where(tasks.c.task_id == bindparam("_task_id"))
                        .values({n: bindparam(n) for n in names})
                    )
                    await conn.execute(stmt, rows)
                    self.statements += 1
        except BaseException:
            # Put the batch back under anything newer that arrived meanwhile.
            for task_id, cols in batch.items():
                newer = self._pending.get(task_id, {})
                self._pending[task_id] = {**cols, **newer}
            raise
        self.updates_written += len(batch)

    async def close(self, timeout: float = 10.0) -> None:
        """Flush what is pending; what the store does not take by `timeout` is logged, task
        by task (a restart would route those tasks again from their last stored status)."""
        self._closing = True
        self._wake.set()
        try:
            await asyncio.wait_for(self.flush(), timeout)
        except Exception as exc:
            log.error(
                "task_updates_not_stored",
                count=len(self._pending),
                error=f"{type(exc).__name__}: {exc}"[:300],
                updates={tid: _loggable(cols) for tid, cols in list(self._pending.items())[:200]},
            )


def _loggable(cols: Mapping[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in cols.items()}
