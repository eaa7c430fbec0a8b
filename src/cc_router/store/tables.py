"""The store's schema. Times are timezone-aware UTC everywhere; the core's float epoch
seconds are converted on the way in."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Dialect,
    Float,
    Index,
    Integer,
    String,
    TypeDecorator,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from cc_router.core.reporting import INTERVAL_S as INTERVAL_S  # report rows cover one interval

# SQLite only auto-increments an INTEGER PRIMARY KEY, not a BIGINT one.
Id = BigInteger().with_variant(Integer(), "sqlite")
# JSONB on PostgreSQL so decisions can be queried with the JSON operators and indexed.
Json = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """TIMESTAMP WITH TIME ZONE that always hands back aware UTC datetimes.

    SQLite has no time-zone type and returns naive values; they were written as UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use UTC-aware datetimes")
        value = value.astimezone(UTC)
        # SQLite compares timestamps as text, so every stored value must share one format.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)


def utc_or_none(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, tz=UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime(), dict[str, Any]: Json}


class InteractionRow(Base):
    """One interaction's visit to one queue (an overflowed call has a row per queue)."""

    __tablename__ = "interactions"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    interaction_id: Mapped[str] = mapped_column(String(128), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    queue: Mapped[str] = mapped_column(String(128))
    caller: Mapped[str] = mapped_column(String(256))
    agent_id: Mapped[str | None] = mapped_column(String(128), index=True)
    enqueued_at: Mapped[datetime]
    offered_at: Mapped[datetime | None]
    answered_at: Mapped[datetime | None]
    ended_at: Mapped[datetime]
    outcome: Mapped[str] = mapped_column(String(32))
    wait_s: Mapped[float] = mapped_column(Float)
    talk_s: Mapped[float] = mapped_column(Float)
    hold_s: Mapped[float | None] = mapped_column(
        Float, comment="of talk_s, seconds the agent held the caller; null: not recorded"
    )
    step: Mapped[int] = mapped_column(Integer)
    misses: Mapped[int] = mapped_column(Integer)
    disposition: Mapped[str] = mapped_column(String(128))
    explanation: Mapped[dict[str, Any] | None]
    wrapup_code: Mapped[str | None] = mapped_column(
        String(64), comment="disposition code the agent gave (desktop), null: none given"
    )
    recording_path: Mapped[str | None] = mapped_column(
        String(512), comment="the call's recording as the router reads it, null: not recorded"
    )
    recording_s: Mapped[float | None] = mapped_column(Float, comment="length of the recording, seconds")
    recording_bytes: Mapped[int | None] = mapped_column(BigInteger, comment="size of the recording file")

    __table_args__ = (Index("ix_interactions_queue_enqueued_at", "queue", "enqueued_at"),)


class AgentStateRow(Base):
    """One agent state interval; `ended_at` is NULL for the state the agent is in now."""

    __tablename__ = "agent_states"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    agent_id: Mapped[str] = mapped_column(String(128))
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(128))
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_agent_states_agent_id_started_at", "agent_id", "started_at"),
        Index("ix_agent_states_started_at", "started_at"),
    )


class DecisionRow(Base):
    """One routing decision (an offer) and the explanation the core gave for it."""

    __tablename__ = "decisions"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    offer_id: Mapped[str] = mapped_column(String(128), index=True)
    interaction_id: Mapped[str] = mapped_column(String(128), index=True)
    agent_id: Mapped[str] = mapped_column(String(128), index=True)
    queue: Mapped[str] = mapped_column(String(128))
    channel: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(index=True)
    explanation: Mapped[dict[str, Any]]


SL_PCT_COMMENT = (
    "100 * answered_within_sl / (answered + abandoned_after_sl); NULL when the divisor is 0. "
    "Abandons within the threshold count neither for nor against; exits are not counted."
)


class QueueIntervalRow(Base):
    """Per queue, channel and 15-minute interval; interactions belong to the interval in
    which they entered the queue."""

    __tablename__ = "queue_intervals"

    interval_start: Mapped[datetime] = mapped_column(primary_key=True)
    queue: Mapped[str] = mapped_column(String(128), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    service_level_s: Mapped[float] = mapped_column(Float)
    offered: Mapped[int] = mapped_column(Integer)
    answered: Mapped[int] = mapped_column(Integer)
    abandoned: Mapped[int] = mapped_column(Integer, comment="abandoned + abandoned_ringing")
    abandoned_after_sl: Mapped[int] = mapped_column(Integer)
    overflowed: Mapped[int] = mapped_column(Integer)
    timed_out: Mapped[int] = mapped_column(Integer)
    other_exits: Mapped[int] = mapped_column(
        Integer, comment="max_length, empty, moved, overflow_loop, queue_removed"
    )
    answered_within_sl: Mapped[int] = mapped_column(Integer)
    sl_pct: Mapped[float | None] = mapped_column(Float, comment=SL_PCT_COMMENT)
    asa_s: Mapped[float | None] = mapped_column(Float, comment="mean wait_s of answered")
    aht_s: Mapped[float | None] = mapped_column(
        Float, comment="mean talk_s of answered; wrap-up is per agent, see agent_intervals"
    )
    max_wait_s: Mapped[float | None] = mapped_column(Float)
    dispositions: Mapped[dict[str, Any] | None] = mapped_column(
        comment="{code: interactions} of the codes agents gave"
    )


class AgentIntervalRow(Base):
    """Seconds per agent state in one 15-minute interval, split at interval boundaries."""

    __tablename__ = "agent_intervals"

    interval_start: Mapped[datetime] = mapped_column(primary_key=True)
    agent_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    logged_in_s: Mapped[float] = mapped_column(Float)
    ready_s: Mapped[float] = mapped_column(Float)
    reserved_s: Mapped[float] = mapped_column(Float)
    busy_s: Mapped[float] = mapped_column(Float, comment="talking (or a private call)")
    wrap_up_s: Mapped[float] = mapped_column(Float)
    paused_s: Mapped[float] = mapped_column(Float)
    pause_by_reason: Mapped[dict[str, Any]] = mapped_column(comment="{reason: seconds}")


interactions = Base.metadata.tables["interactions"]
agent_states = Base.metadata.tables["agent_states"]
decisions = Base.metadata.tables["decisions"]
queue_intervals = Base.metadata.tables["queue_intervals"]
agent_intervals = Base.metadata.tables["agent_intervals"]
