"""The day's queue and agent reports the console offers, in the centre's time zone.

Queue rows are the 15-minute `queue_intervals` rows. Agent rows join `agent_intervals`
(seconds per state) with the calls each agent answered in the interval: handled count,
talk, wrap-up, hold, and average handle time = (talk + wrap-up) / handled. Hold is part
of talk (the caller stays connected): the seconds the agent held callers, seen as music
on hold on the connected caller's channel. It is empty where none of the interval's calls
had it recorded (rows stored before hold was).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Collection
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from cc_router.store.reports import floor_interval, read_agent_intervals, read_queue_intervals
from cc_router.store.tables import interactions

QUEUE_COLUMNS = (
    "interval",
    "queue",
    "channel",
    "offered",
    "answered",
    "abandoned",
    "overflowed",
    "answered_within_sl",
    "sl_pct",
    "asa_s",
    "aht_s",
    "max_wait_s",
)
AGENT_COLUMNS = (
    "interval",
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


def day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """Local midnight to the next local midnight (23 or 25 hours across a DST change)."""
    start = datetime.combine(day, time(0), tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
    return start, end


def _label(t: datetime, tz: ZoneInfo) -> str:
    return t.astimezone(tz).isoformat(timespec="minutes")


def _r(v: float | None) -> float | None:
    return None if v is None else round(v, 1)


async def queue_day(
    engine: AsyncEngine, day: date, tz: ZoneInfo, queues: Collection[str] | None = None
) -> list[dict[str, Any]]:
    start, end = day_bounds(day, tz)
    async with engine.connect() as conn:
        rows = await read_queue_intervals(conn, start, end)
    out = []
    for r in rows:
        if queues is not None and r["queue"] not in queues:
            continue
        row = {c: r.get(c) for c in QUEUE_COLUMNS if c != "interval"}
        out.append({"interval": _label(r["interval_start"], tz), **row})
    return out


async def agent_day(
    engine: AsyncEngine, day: date, tz: ZoneInfo, agents: Collection[str] | None = None
) -> list[dict[str, Any]]:
    start, end = day_bounds(day, tz)
    t = interactions.c
    async with engine.connect() as conn:
        states = await read_agent_intervals(conn, start, end)
        calls = (
            await conn.execute(
                select(t.agent_id, t.answered_at, t.talk_s, t.hold_s).where(
                    t.answered_at >= start, t.answered_at < end, t.agent_id.is_not(None)
                )
            )
        ).all()
    handled: dict[tuple[datetime, str], list[float]] = {}
    held: dict[tuple[datetime, str], float] = {}
    for agent_id, answered_at, talk_s, hold_s in calls:
        key = (floor_interval(answered_at), agent_id)
        handled.setdefault(key, []).append(float(talk_s))
        if hold_s is not None:
            held[key] = held.get(key, 0.0) + float(hold_s)
    by_key: dict[tuple[datetime, str], dict[str, Any]] = {
        (s["interval_start"], s["agent_id"]): s for s in states
    }
    out = []
    for key in sorted(set(by_key) | set(handled)):
        interval_start, agent_id = key
        if agents is not None and agent_id not in agents:
            continue
        s = by_key.get(key, {})
        talks = handled.get(key, [])
        talk = sum(talks)
        wrap = float(s.get("wrap_up_s") or 0.0)
        out.append(
            {
                "interval": _label(interval_start, tz),
                "agent_id": agent_id,
                "handled": len(talks),
                "aht_s": _r((talk + wrap) / len(talks)) if talks else None,
                "talk_s": _r(talk),
                "wrap_s": _r(wrap),
                "hold_s": _r(held.get(key)),
                "ready_s": _r(s.get("ready_s")),
                "paused_s": _r(s.get("paused_s")),
                "logged_in_s": _r(s.get("logged_in_s")),
            }
        )
    return out


def to_csv(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    for r in rows:
        w.writerow(["" if r.get(c) is None else r[c] for c in columns])
    return buf.getvalue()
