"""The day's queue and agent reports the console offers, in the centre's time zone.

Queue rows are the 15-minute `queue_intervals` rows; agent rows are the store's agent
report (`read_agent_report`: handled count, average handle, talk, wrap-up and hold beside
the seconds per state). Hold is the seconds the agent held callers, seen as music on hold
on the connected caller's channel.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Collection
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncEngine

from cc_router.store.reports import AGENT_REPORT_COLUMNS, read_agent_report, read_queue_intervals

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
AGENT_COLUMNS = ("interval", *AGENT_REPORT_COLUMNS[1:])


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
    async with engine.connect() as conn:
        rows = await read_agent_report(conn, start, end)
    out = []
    for r in rows:
        if agents is not None and r["agent_id"] not in agents:
            continue
        out.append(
            {
                "interval": _label(r["interval_start"], tz),
                "agent_id": r["agent_id"],
                "handled": r["handled"],
                **{c: _r(r[c]) for c in AGENT_COLUMNS[3:]},
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
