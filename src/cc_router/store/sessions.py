"""Agent sessions and live queue changes in the store, so a restart resumes them.

`put_*` runs in the routing loop and only buffers; `run()` writes in the background;
`await stored()` returns once everything put so far is committed, which is what the
HTTP, MQTT and phone paths wait for before they acknowledge a change.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from cc_router.store.session_tables import agent_sessions, queue_overrides
from cc_router.store.tables import utc

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AgentSession:
    agent_id: str
    presence: str
    """logged_out, ready, paused"""
    reason: str
    since: float
    pause_max_s: float | None
    skills: dict[str, int] | None
    """Skills a supervisor set live; None while the config's apply."""


@dataclass(frozen=True, slots=True)
class QueueOverride:
    queue: str
    priority: int
    steps: tuple[tuple[float, str, int], ...]
    """(after_s, requirement, priority_boost) per escalation step."""


@dataclass(frozen=True, slots=True)
class _ClearLive:
    """A config reload: the file is authoritative again for skills and queues."""


_Op = AgentSession | QueueOverride | _ClearLive


def _insert(conn: AsyncConnection, table: Any) -> Any:
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def _agent_row(s: AgentSession, now: float) -> dict[str, Any]:
    return {
        "agent_id": s.agent_id,
        "presence": s.presence,
        "reason": s.reason,
        "since": utc(s.since),
        "pause_max_s": s.pause_max_s,
        "skills": s.skills,
        "updated_at": utc(now),
    }


def _queue_row(q: QueueOverride, now: float) -> dict[str, Any]:
    return {
        "queue": q.queue,
        "priority": q.priority,
        "steps": {"steps": [list(s) for s in q.steps]},
        "updated_at": utc(now),
    }


async def _upsert(conn: AsyncConnection, table: Any, key: str, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    stmt = _insert(conn, table)
    stmt = stmt.on_conflict_do_update(
        index_elements=[key], set_={c: stmt.excluded[c] for c in rows[0] if c != key}
    )
    await conn.execute(stmt, rows)


class SessionStore:
    def __init__(self, engine: AsyncEngine, *, max_backoff_s: float = 5.0, gather_s: float = 0.5) -> None:
        self.engine = engine
        self.max_backoff_s = max_backoff_s
        self.gather_s = gather_s
        """How long changes nobody waits for are gathered into one transaction. Every
        answered call moves its agent's idle-since, and a transaction per call was the
        event loop's largest source of wake-ups: each SQL step through aiosqlite comes back
        from its thread with call_soon_threadsafe, 9.5 wake-ups per call at 30 calls/s
        (live bench, wakeups.py). A change someone awaits (`stored()`: a login, a pause)
        is written at once, with whatever was gathered. 0.5 s: the agents' sessions were
        still 0.18 ms of router CPU per call at 30 calls/s gathered for 0.25 s (cpu_parts)."""
        self._urgent = asyncio.Event()
        self._ops: list[_Op] = []
        self._put = 0
        self._committed = 0
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._wake = asyncio.Event()
        self.healthy = True
        self.last_error = ""
        self.commits = 0

    # ------------------------------------------------------------------ routing loop side

    def put(self, op: _Op) -> None:
        self._ops.append(op)
        self._put += 1
        self._wake.set()

    def clear_live_changes(self) -> None:
        self.put(_ClearLive())

    @property
    def pending(self) -> int:
        return self._put - self._committed

    async def stored(self, timeout_s: float | None = None) -> bool:
        """True once everything put so far is committed; False if `timeout_s` ran out."""
        target = self._put
        if self._committed >= target:
            return True
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((target, fut))
        self._urgent.set()
        try:
            async with asyncio.timeout(timeout_s):
                await asyncio.shield(fut)
        except TimeoutError:
            return False
        return True

    # ------------------------------------------------------------------ IO side

    async def load(self) -> tuple[list[AgentSession], list[QueueOverride]]:
        async with self.engine.connect() as conn:
            agents = [
                AgentSession(
                    r.agent_id,
                    r.presence,
                    r.reason,
                    r.since.timestamp(),
                    r.pause_max_s,
                    None if r.skills is None else {str(k): int(v) for k, v in r.skills.items()},
                )
                for r in await conn.execute(select(agent_sessions))
            ]
            queues = [
                QueueOverride(
                    r.queue,
                    r.priority,
                    tuple((float(a), str(req), int(b)) for a, req, b in r.steps.get("steps", [])),
                )
                for r in await conn.execute(select(queue_overrides))
            ]
        return agents, queues

    async def run(self) -> None:
        backoff = 0.05
        while True:
            if not self._ops:
                self._wake.clear()
                await self._wake.wait()
                continue
            if not self._waiters and self.gather_s > 0:
                self._urgent.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.gather_s):
                        await self._urgent.wait()
            try:
                await self.flush()
            except Exception as exc:  # any driver error: keep the changes, retry
                self.healthy = False
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("session write failed, retrying in %.2fs: %s", backoff, self.last_error)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff_s)
                continue
            self.healthy, self.last_error, backoff = True, "", 0.05

    async def flush(self) -> None:
        ops = self._ops[:]
        if not ops:
            return
        async with self.engine.begin() as conn:
            await _write(conn, ops, time.time())
        del self._ops[: len(ops)]
        self._committed += len(ops)
        self.commits += 1
        still = []
        for target, fut in self._waiters:
            if target <= self._committed:
                if not fut.done():
                    fut.set_result(None)
            else:
                still.append((target, fut))
        self._waiters = still

    async def close(self, timeout_s: float = 5.0) -> None:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(timeout_s):
                while self._ops:
                    await self.flush()


async def _write(conn: AsyncConnection, ops: Sequence[_Op], now: float) -> None:
    agents: dict[str, dict[str, Any]] = {}
    queues: dict[str, dict[str, Any]] = {}

    async def drain() -> None:
        await _upsert(conn, agent_sessions, "agent_id", list(agents.values()))
        await _upsert(conn, queue_overrides, "queue", list(queues.values()))
        agents.clear()
        queues.clear()

    for op in ops:
        if isinstance(op, AgentSession):
            agents[op.agent_id] = _agent_row(op, now)
        elif isinstance(op, QueueOverride):
            queues[op.queue] = _queue_row(op, now)
        else:
            await drain()
            await conn.execute(delete(queue_overrides))
            await conn.execute(update(agent_sessions).values(skills=None))
    await drain()


__all__ = ["AgentSession", "QueueOverride", "SessionStore"]
