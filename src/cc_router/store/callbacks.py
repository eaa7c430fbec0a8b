"""Callback requests and attempts in SQL.

Every write is awaited: a caller is told "we will call you back" only once its request is
durable, and a router that restarts routes again every callback still open, at its
original place (`since`, `priority`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from cc_router.store.callback_tables import OPEN, callback_attempts, callbacks


@dataclass(frozen=True, slots=True)
class StoredCallback:
    callback_id: str
    interaction_id: str
    queue: str
    priority: int
    since: datetime
    number: str
    caller_name: str
    node: str
    status: str
    attempts: int
    next_attempt_at: datetime | None


class CallbackStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def add(self, cb: StoredCallback, at: datetime) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                insert(callbacks).values(
                    callback_id=cb.callback_id,
                    interaction_id=cb.interaction_id,
                    queue=cb.queue,
                    priority=cb.priority,
                    since=cb.since,
                    number=cb.number,
                    caller_name=cb.caller_name,
                    node=cb.node,
                    status=cb.status,
                    attempts=cb.attempts,
                    next_attempt_at=cb.next_attempt_at,
                    requested_at=at,
                    updated_at=at,
                )
            )

    async def open_callbacks(self) -> list[StoredCallback]:
        """Callbacks still to be made, oldest caller first (the order they rejoin in)."""
        query = select(callbacks).where(callbacks.c.status.in_(OPEN)).order_by(callbacks.c.since)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [
            StoredCallback(
                callback_id=r.callback_id,
                interaction_id=r.interaction_id,
                queue=r.queue,
                priority=r.priority,
                since=r.since,
                number=r.number,
                caller_name=r.caller_name,
                node=r.node,
                status=r.status,
                attempts=r.attempts,
                next_attempt_at=r.next_attempt_at,
            )
            for r in rows
        ]

    async def attempt_started(
        self, callback_id: str, attempt: int, agent_id: str | None, at: datetime
    ) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                insert(callback_attempts).values(
                    callback_id=callback_id, attempt=attempt, agent_id=agent_id, started_at=at
                )
            )
            await conn.execute(
                update(callbacks)
                .where(callbacks.c.callback_id == callback_id)
                .values(status="dialling", attempts=attempt, next_attempt_at=None, updated_at=at)
            )

    async def attempt_ended(
        self,
        callback_id: str,
        attempt: int,
        result: str,
        at: datetime,
        *,
        status: str,
        next_attempt_at: datetime | None = None,
    ) -> None:
        """Close the attempt with `result`; the callback becomes `status` (waiting again
        for a retry at `next_attempt_at`, connected, or failed when attempts ran out)."""
        async with self.engine.begin() as conn:
            await conn.execute(
                update(callback_attempts)
                .where(callback_attempts.c.callback_id == callback_id)
                .where(callback_attempts.c.attempt == attempt)
                .values(ended_at=at, result=result)
            )
            await conn.execute(
                update(callbacks)
                .where(callbacks.c.callback_id == callback_id)
                .values(status=status, next_attempt_at=next_attempt_at, updated_at=at)
            )

    async def attempts(self, callback_id: str) -> list[tuple[int, str | None, str | None]]:
        """(attempt, agent, result) of every try, in order."""
        query = (
            select(callback_attempts.c.attempt, callback_attempts.c.agent_id, callback_attempts.c.result)
            .where(callback_attempts.c.callback_id == callback_id)
            .order_by(callback_attempts.c.attempt)
        )
        async with self.engine.connect() as conn:
            return [(r.attempt, r.agent_id, r.result) for r in (await conn.execute(query)).all()]

    async def set_status(self, callback_id: str, status: str, at: datetime) -> None:
        """A callback ended otherwise than by an attempt (e.g. cancelled)."""
        async with self.engine.begin() as conn:
            await conn.execute(
                update(callbacks)
                .where(callbacks.c.callback_id == callback_id)
                .values(status=status, next_attempt_at=None, updated_at=at)
            )
