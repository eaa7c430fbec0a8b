"""15-minute report rows computed from `interactions` and `agent_states`.

Queue rows count each interaction in the interval in which it entered the queue (so a
call waiting across a boundary is reported once, where it was offered to the queue).
Agent rows split every state interval at the boundaries, so an agent paused from 10:10
to 10:20 has 300 s paused in the 10:00 row and 300 s in the 10:15 row.

Service level (`sl_pct`) uses the common industry definition in which callers who hang
up before the threshold count neither for nor against the queue:

    sl_pct = 100 * answered_within_sl / (answered + abandoned_after_sl)

where `answered_within_sl` counts answered interactions with wait_s <= threshold and
`abandoned_after_sl` counts abandoned ones (including abandoned while ringing an agent)
with wait_s > threshold. Interactions that left by an exit (overflow, max wait, ...)
are reported in their own columns and are not part of the ratio. NULL when the divisor
is 0. The threshold is per queue (its `service_level_s`), 20 s by default.

Average handle time (`aht_s`) is the mean talk time of answered interactions only:
the store has no per-interaction wrap-up time (wrap-up belongs to the agent and is in
`agent_intervals.wrap_up_s`).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import RowMapping, and_, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from cc_router.core.reporting import VisitTally
from cc_router.store.tables import (
    INTERVAL_S,
    agent_intervals,
    agent_states,
    interactions,
    queue_intervals,
)

DEFAULT_SERVICE_LEVEL_S = 20.0


def floor_interval(t: datetime) -> datetime:
    ts = t.astimezone(UTC).timestamp()
    return datetime.fromtimestamp(math.floor(ts / INTERVAL_S) * INTERVAL_S, tz=UTC)


def ceil_interval(t: datetime) -> datetime:
    ts = t.astimezone(UTC).timestamp()
    return datetime.fromtimestamp(math.ceil(ts / INTERVAL_S) * INTERVAL_S, tz=UTC)


@dataclass(slots=True)
class _QueueAcc(VisitTally):
    service_level_s: float = DEFAULT_SERVICE_LEVEL_S
    max_wait_s: float | None = None
    dispositions: dict[str, int] = field(default_factory=dict)


def compute_queue_intervals(
    rows: Iterable[Mapping[str, Any]] | Sequence[RowMapping],
    service_levels: Mapping[str, float] | None = None,
    default_service_level_s: float = DEFAULT_SERVICE_LEVEL_S,
) -> list[dict[str, Any]]:
    """Queue interval rows from `interactions` rows (mappings with its column names)."""
    levels = service_levels or {}
    acc: dict[tuple[datetime, str, str], _QueueAcc] = {}
    for r in rows:
        key = (floor_interval(r["enqueued_at"]), r["queue"], r["channel"])
        a = acc.get(key)
        if a is None:
            a = acc[key] = _QueueAcc(service_level_s=float(levels.get(r["queue"], default_service_level_s)))
        wait = float(r["wait_s"])
        code = r.get("wrapup_code")
        if code:
            a.dispositions[code] = a.dispositions.get(code, 0) + 1
        a.max_wait_s = wait if a.max_wait_s is None else max(a.max_wait_s, wait)
        a.count(r["outcome"], wait, float(r["talk_s"]), r["answered_at"] is not None, a.service_level_s)
    out: list[dict[str, Any]] = []
    for (start, queue, channel), a in sorted(acc.items()):
        divisor = a.answered + a.abandoned_after_sl
        out.append(
            {
                "interval_start": start,
                "queue": queue,
                "channel": channel,
                "service_level_s": a.service_level_s,
                "offered": a.offered,
                "answered": a.answered,
                "abandoned": a.abandoned,
                "abandoned_after_sl": a.abandoned_after_sl,
                "overflowed": a.overflowed,
                "timed_out": a.timed_out,
                "other_exits": a.other_exits,
                "answered_within_sl": a.answered_within_sl,
                "sl_pct": 100.0 * a.answered_within_sl / divisor if divisor else None,
                "asa_s": a.wait_answered / a.answered if a.answered else None,
                "aht_s": a.talk_answered / a.answered if a.answered else None,
                "max_wait_s": a.max_wait_s,
                "dispositions": dict(sorted(a.dispositions.items())),
            }
        )
    return out


_STATE_COLUMNS = {
    "ready": "ready_s",
    "reserved": "reserved_s",
    "busy": "busy_s",
    "wrap_up": "wrap_up_s",
    "paused": "paused_s",
}


@dataclass(slots=True)
class _AgentAcc:
    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(_STATE_COLUMNS.values(), 0.0))
    pause_by_reason: dict[str, float] = field(default_factory=dict)


def compute_agent_intervals(
    rows: Iterable[Mapping[str, Any]] | Sequence[RowMapping], start: datetime, end: datetime, now: datetime
) -> list[dict[str, Any]]:
    """Agent interval rows from `agent_states` rows, clipped to [start, end) and to `now`
    for the interval still open."""
    lo = start.timestamp()
    hi = end.timestamp()
    now_ts = now.timestamp()
    acc: dict[tuple[float, str], _AgentAcc] = defaultdict(_AgentAcc)
    for r in rows:
        column = _STATE_COLUMNS.get(r["state"])
        if column is None:  # logged_out is not logged-in time
            continue
        ended = r["ended_at"]
        s = max(r["started_at"].timestamp(), lo)
        e = min(ended.timestamp() if ended is not None else now_ts, hi)
        while s < e:
            slot = math.floor(s / INTERVAL_S) * INTERVAL_S
            part_end = min(e, slot + INTERVAL_S)
            a = acc[(slot, r["agent_id"])]
            secs = part_end - s
            a.seconds[column] += secs
            if column == "paused_s":
                reason = r["reason"] or ""
                a.pause_by_reason[reason] = a.pause_by_reason.get(reason, 0.0) + secs
            s = part_end
    out: list[dict[str, Any]] = []
    for (slot, agent_id), a in sorted(acc.items()):
        out.append(
            {
                "interval_start": datetime.fromtimestamp(slot, tz=UTC),
                "agent_id": agent_id,
                "logged_in_s": sum(a.seconds.values()),
                **a.seconds,
                "pause_by_reason": a.pause_by_reason,
            }
        )
    return out


@dataclass(frozen=True, slots=True)
class IntervalSummary:
    start: datetime
    end: datetime
    queue_rows: int
    agent_rows: int


async def write_intervals(
    engine: AsyncEngine,
    start: datetime,
    end: datetime,
    service_levels: Mapping[str, float] | None = None,
    *,
    default_service_level_s: float = DEFAULT_SERVICE_LEVEL_S,
    now: datetime | None = None,
) -> IntervalSummary:
    """(Re)compute the interval rows of [start, end), widened to whole 15-minute intervals.

    Old rows of those intervals are deleted and new ones inserted in one transaction, so
    running it again over the same period gives the same rows. Intervals with no activity
    get no row.
    """
    lo, hi = floor_interval(start), ceil_interval(end)
    clip = now or datetime.now(tz=UTC)
    async with engine.begin() as conn:
        irows = await conn.execute(
            select(interactions).where(interactions.c.enqueued_at >= lo, interactions.c.enqueued_at < hi)
        )
        qrows = compute_queue_intervals(irows.mappings().all(), service_levels, default_service_level_s)
        srows = await conn.execute(
            select(agent_states).where(
                agent_states.c.started_at < hi,
                or_(agent_states.c.ended_at.is_(None), agent_states.c.ended_at > lo),
            )
        )
        arows = compute_agent_intervals(srows.mappings().all(), lo, hi, clip)
        await conn.execute(
            delete(queue_intervals).where(
                and_(queue_intervals.c.interval_start >= lo, queue_intervals.c.interval_start < hi)
            )
        )
        await conn.execute(
            delete(agent_intervals).where(
                and_(agent_intervals.c.interval_start >= lo, agent_intervals.c.interval_start < hi)
            )
        )
        if qrows:
            await conn.execute(queue_intervals.insert(), qrows)
        if arows:
            await conn.execute(agent_intervals.insert(), arows)
    return IntervalSummary(lo, hi, len(qrows), len(arows))


async def read_queue_intervals(conn: AsyncConnection, start: datetime, end: datetime) -> list[dict[str, Any]]:
    lo, hi = floor_interval(start), ceil_interval(end)
    rows = await conn.execute(
        select(queue_intervals)
        .where(queue_intervals.c.interval_start >= lo, queue_intervals.c.interval_start < hi)
        .order_by(queue_intervals.c.interval_start, queue_intervals.c.queue, queue_intervals.c.channel)
    )
    return [dict(r) for r in rows.mappings()]


async def read_agent_intervals(conn: AsyncConnection, start: datetime, end: datetime) -> list[dict[str, Any]]:
    lo, hi = floor_interval(start), ceil_interval(end)
    rows = await conn.execute(
        select(agent_intervals)
        .where(agent_intervals.c.interval_start >= lo, agent_intervals.c.interval_start < hi)
        .order_by(agent_intervals.c.interval_start, agent_intervals.c.agent_id)
    )
    return [dict(r) for r in rows.mappings()]


AGENT_REPORT_COLUMNS = (
    "interval_start",
    "agent_id",
    "handled",
    "aht_s",
    "talk_s",
    "wrap_s",
    "hold_s",
    "ready_s",
    "paused_s",
    "logged_in_s",
)
"""The keys of `read_agent_report`'s rows, in the order reports show them."""


async def read_agent_report(conn: AsyncConnection, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Agent rows a supervisor reads: `agent_intervals` (seconds per state) joined with the
    calls each agent answered in the interval: handled count, talk, wrap-up, hold, and
    average handle time = (talk + wrap-up) / handled. Hold is part of talk (the caller stays
    connected) and is None where none of the interval's calls had it recorded (rows stored
    before hold was). Sorted by interval start, then agent."""
    t = interactions.c
    states = await read_agent_intervals(conn, start, end)
    calls = (
        await conn.execute(
            select(t.agent_id, t.answered_at, t.talk_s, t.hold_s).where(
                t.answered_at >= start, t.answered_at < end, t.agent_id.is_not(None)
            )
        )
    ).all()
    talks: dict[tuple[datetime, str], list[float]] = defaultdict(list)
    held: dict[tuple[datetime, str], float] = {}
    for agent_id, answered_at, talk_s, hold_s in calls:
        key = (floor_interval(answered_at), agent_id)
        talks[key].append(float(talk_s))
        if hold_s is not None:
            held[key] = held.get(key, 0.0) + float(hold_s)
    by_key = {(s["interval_start"], s["agent_id"]): s for s in states}
    out = []
    for key in sorted(set(by_key) | set(talks)):
        interval_start, agent_id = key
        s = by_key.get(key, {})
        handled = talks.get(key, [])
        talk = sum(handled)
        wrap = float(s.get("wrap_up_s") or 0.0)
        out.append(
            {
                "interval_start": interval_start,
                "agent_id": agent_id,
                "handled": len(handled),
                "aht_s": (talk + wrap) / len(handled) if handled else None,
                "talk_s": talk,
                "wrap_s": wrap,
                "hold_s": held.get(key),
                "ready_s": s.get("ready_s"),
                "paused_s": s.get("paused_s"),
                "logged_in_s": s.get("logged_in_s"),
            }
        )
    return out


__all__ = [
    "AGENT_REPORT_COLUMNS",
    "DEFAULT_SERVICE_LEVEL_S",
    "IntervalSummary",
    "ceil_interval",
    "compute_agent_intervals",
    "compute_queue_intervals",
    "floor_interval",
    "read_agent_intervals",
    "read_agent_report",
    "read_queue_intervals",
    "write_intervals",
]
