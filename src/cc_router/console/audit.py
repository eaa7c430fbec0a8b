"""`AuditLog`: supervisor actions written to the `audit` table and read back for the API.

A row is written before the action's answer goes out, so an acknowledged action is always
in the table (also when the router is killed right after). Actions are rare next to
routing events: one INSERT each is cheap, and nothing on the routing path waits for it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from cc_router.console.tables import AuditRow
from cc_router.store.tables import utc

MAX_LIST = 1000


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
    def __init__(self, engine: AsyncEngine, clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self.clock = clock

    async def record(self, entry: AuditEntry) -> int:
        async with self.engine.begin() as conn:
            result = await conn.execute(
                insert(AuditRow)
                .values(
                    at=utc(self.clock()),
                    user_name=entry.user[:128],
                    role=entry.role,
                    action=entry.action.value,
                    target_kind=entry.kind.value,
                    target=entry.target[:128],
                    reason=None if entry.reason is None else entry.reason[:256],
                    before=entry.before,
                    after=entry.after,
                    client=entry.client[:64],
                )
                .returning(AuditRow.id)
            )
            return int(result.scalar_one())

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
