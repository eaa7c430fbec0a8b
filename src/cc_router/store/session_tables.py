"""What must outlive the router process: agent sessions, supervisors' live changes, the
writer's journal marks and who leads.

They share `Base.metadata` with the rest of the store, so one Alembic history covers them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from cc_router.store.tables import Base


class AgentSessionRow(Base):
    """One agent's presence, written before a login, pause or skill change is acknowledged."""

    __tablename__ = "agent_sessions"

    agent_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    presence: Mapped[str] = mapped_column(String(16), comment="logged_out, ready, paused")
    reason: Mapped[str] = mapped_column(String(128), comment="pause reason")
    since: Mapped[datetime] = mapped_column(
        comment="when the agent entered this presence (ready: idle since)"
    )
    pause_max_s: Mapped[float | None] = mapped_column(Float)
    skills: Mapped[dict[str, Any] | None] = mapped_column(comment="skills set live; NULL: the config's")
    updated_at: Mapped[datetime]


class QueueOverrideRow(Base):
    """A queue's priority and escalation steps as a supervisor last changed them live."""

    __tablename__ = "queue_overrides"

    queue: Mapped[str] = mapped_column(String(128), primary_key=True)
    priority: Mapped[int] = mapped_column(Integer)
    steps: Mapped[dict[str, Any]] = mapped_column(
        comment='{"steps": [[after_s, requirement, priority_boost]]}'
    )
    updated_at: Mapped[datetime]


class JournalMarkRow(Base):
    """The last journal record committed to the store, per journal file (see store/journal.py)."""

    __tablename__ = "journal_marks"

    journal: Mapped[str] = mapped_column(String(256), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime]


class RouterLeaderRow(Base):
    """Who holds the leadership lock, so a standby can name the leader."""

    __tablename__ = "router_leader"

    lock_key: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    address: Mapped[str] = mapped_column(String(256), comment="the leader's advertised HTTP address")
    host: Mapped[str] = mapped_column(String(256))
    pid: Mapped[int] = mapped_column(Integer)
    since: Mapped[datetime]


agent_sessions = Base.metadata.tables["agent_sessions"]
queue_overrides = Base.metadata.tables["queue_overrides"]
journal_marks = Base.metadata.tables["journal_marks"]
router_leader = Base.metadata.tables["router_leader"]
