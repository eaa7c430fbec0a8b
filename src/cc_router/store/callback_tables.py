"""Callbacks in SQL: a caller who asked to be called back keeps its place across a
restart, and every attempt to reach it is on record.

They share `Base.metadata` with the rest of the store, so one Alembic history covers them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from cc_router.store.tables import Base, Id

OPEN = ("waiting", "dialling")
"""Callback statuses a router must route again after a restart."""


class CallbackRow(Base):
    """One callback request: the interaction it replaces, where it waits and whom to call."""

    __tablename__ = "callbacks"

    callback_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    interaction_id: Mapped[str] = mapped_column(String(128), comment="the call that asked for it")
    queue: Mapped[str] = mapped_column(String(128))
    priority: Mapped[int] = mapped_column(Integer)
    since: Mapped[datetime] = mapped_column(comment="the caller's arrival: its seniority in the queue")
    number: Mapped[str] = mapped_column(String(64), comment="the number to call back")
    caller_name: Mapped[str] = mapped_column(String(256))
    node: Mapped[str] = mapped_column(String(128), comment="Asterisk node the caller came in on")
    status: Mapped[str] = mapped_column(String(16), comment="waiting, dialling, connected, failed, cancelled")
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime | None]
    requested_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    __table_args__ = (Index("ix_callbacks_status", "status"),)


class CallbackAttemptRow(Base):
    """One try to reach the customer: which agent was rung first, and how it ended."""

    __tablename__ = "callback_attempts"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    callback_id: Mapped[str] = mapped_column(String(128), ForeignKey("callbacks.callback_id"))
    attempt: Mapped[int] = mapped_column(Integer)
    agent_id: Mapped[str | None] = mapped_column(String(128))
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    result: Mapped[str | None] = mapped_column(
        String(32), comment="answered, no_answer, busy, failed, agent_missed, outside_window"
    )

    __table_args__ = (Index("ix_callback_attempts_callback_id", "callback_id"),)


callbacks = Base.metadata.tables["callbacks"]
callback_attempts = Base.metadata.tables["callback_attempts"]
