"""Replay recorded traffic under another config: the store's `interactions` table or an
Asterisk queue_log file gives arrival times, queues, callers, handle times (talk time of
answered calls) and patience (callers who abandoned gave up after their recorded wait).

What a recording cannot tell is filled in and said so: a caller who was answered never
showed their patience (treated as unlimited); a caller who never reached an agent never
showed a handle time (drawn from the same queue's recorded talk times, else 180 s).
An interaction that overflowed arrives once, in its first queue.
"""

from __future__ import annotations

import asyncio
import math
import random
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from cc_router.core.router import Router
from cc_router.core.spec import CentreSpec
from cc_router.core.vocabulary import ABANDONED_OUTCOMES, ANSWERED_OUTCOMES, Outcome
from cc_router.sim.arrivals import Arrival
from cc_router.sim.engine import RouterFactory, SimResult, Simulation
from cc_router.sim.stats import QueueAcc, Stats
from cc_router.sim.traffic import Traffic

DEFAULT_HANDLE_S = 180.0


@dataclass(frozen=True, slots=True)
class Visit:
    """One interaction's visit to one queue, as recorded."""

    interaction_id: str
    queue: str
    caller: str
    enqueued_at: float
    outcome: str
    """An `Outcome`, or "other" for an exit queue_log names and the core does not."""
    wait_s: float
    talk_s: float


def read_store(url: str, start: datetime | None = None, end: datetime | None = None) -> list[Visit]:
    from sqlalchemy import select
    from sqlalchemy.ext.asyncio import create_async_engine

    from cc_router.store.tables import interactions as t

    async def fetch() -> list[Visit]:
        engine = create_async_engine(url)
        try:
            q = select(
                t.c.interaction_id,
                t.c.queue,
                t.c.caller,
                t.c.enqueued_at,
                t.c.outcome,
                t.c.wait_s,
                t.c.talk_s,
            ).order_by(t.c.enqueued_at, t.c.id)
            if start is not None:
                q = q.where(t.c.enqueued_at >= start)
            if end is not None:
                q = q.where(t.c.enqueued_at < end)
            async with engine.connect() as conn:
                rows = (await conn.execute(q)).all()
        finally:
            await engine.dispose()
        return [Visit(r[0], r[1], r[2] or "", r[3].timestamp(), r[4], float(r[5]), float(r[6])) for r in rows]

    return asyncio.run(fetch())


def read_queue_log(path: str | Path) -> list[Visit]:
    """ENTERQUEUE / CONNECT / COMPLETECALLER / COMPLETEAGENT / TRANSFER / ABANDON /
    EXITWITH* lines of an Asterisk queue_log (other events are ignored)."""
    open_visits: dict[tuple[str, str], dict[str, Any]] = {}
    out: list[Visit] = []
    with Path(path).open(encoding="utf-8", errors="replace") as f:
        for line in f:
            parts = line.rstrip("\n").split("|")
            if len(parts) < 5:
                continue
            try:
                ts = float(parts[0])
            except ValueError:
                continue
            callid, queue, event, data = parts[1], parts[2], parts[4], parts[5:]
            key = (callid, queue)
            if event == "ENTERQUEUE":
                caller = data[1] if len(data) > 1 else ""
                open_visits[key] = {"at": ts, "caller": caller, "wait": None}
                continue
            v = open_visits.get(key)
            if v is None:
                continue
            if event == "CONNECT":
                v["wait"] = _num(data, 0)
            elif event in ("COMPLETECALLER", "COMPLETEAGENT", "TRANSFER"):
                talk = _num(data, 3 if event == "TRANSFER" else 1)
                wait = _num(data, 2 if event == "TRANSFER" else 0)
                out.append(Visit(callid, queue, v["caller"], v["at"], Outcome.ANSWERED, wait, talk))
                del open_visits[key]
            elif event == "ABANDON":
                out.append(Visit(callid, queue, v["caller"], v["at"], Outcome.ABANDONED, _num(data, 2), 0.0))
                del open_visits[key]
            elif event.startswith("EXITWITH") or event == "EXITEMPTY":
                outcome = Outcome.TIMED_OUT if event == "EXITWITHTIMEOUT" else "other"
                out.append(Visit(callid, queue, v["caller"], v["at"], outcome, _num(data, -1), 0.0))
                del open_visits[key]
    out.sort(key=lambda v: v.enqueued_at)
    return out


def _num(data: list[str], i: int) -> float:
    try:
        return float(data[i])
    except (IndexError, ValueError):
        return 0.0


def arrivals_from(visits: Iterable[Visit], seed: int = 1) -> list[Arrival]:
    by_id: dict[str, list[Visit]] = defaultdict(list)
    talk: dict[str, list[float]] = defaultdict(list)
    for v in visits:
        by_id[v.interaction_id].append(v)
        if v.outcome in ANSWERED_OUTCOMES and v.talk_s > 0:
            talk[v.queue].append(v.talk_s)
    rng = random.Random(f"{seed}:replay")
    out = []
    for vs in by_id.values():
        first = vs[0]
        handle = next((v.talk_s for v in vs if v.outcome in ANSWERED_OUTCOMES), None)
        if handle is None:
            pool = talk.get(first.queue)
            handle = rng.choice(pool) if pool else DEFAULT_HANDLE_S
        patience = math.inf
        for v in vs:
            if v.outcome in ABANDONED_OUTCOMES:
                patience = v.enqueued_at - first.enqueued_at + v.wait_s
        out.append(Arrival(first.enqueued_at, first.queue, handle, patience, 0, first.caller))
    out.sort(key=lambda a: a.at)
    return out


def before_stats(visits: Iterable[Visit], centre: CentreSpec) -> Stats:
    """The recorded figures, aggregated exactly as the simulation's are."""
    stats = Stats({q.name: q.service_level_s for q in centre.queues})
    for v in visits:
        answered = v.outcome in ANSWERED_OUTCOMES
        stats.on_visit(v.queue, v.enqueued_at, v.outcome, v.wait_s, v.talk_s, answered)
    return stats


def replay(
    visits: list[Visit],
    centre: CentreSpec,
    traffic: Traffic,
    *,
    seed: int = 1,
    tz: ZoneInfo | None = None,
    router_factory: RouterFactory = Router,
    progress: bool | None = None,
) -> tuple[SimResult, Stats, list[str]]:
    """(after, before, warnings). Staffing and agent behaviour come from `traffic` (its
    shifts, breaks, ring delay...); its arrival rates are not used."""
    zone = tz or ZoneInfo("UTC")
    known = {q.name for q in centre.queues}
    unknown = sorted({v.queue for v in visits} - known)
    warnings = [f"recorded queue {q!r} is not in the config: its calls are left out" for q in unknown]
    kept = [v for v in visits if v.queue in known]
    arrivals = [a for a in arrivals_from(kept, seed) if a.queue in known]
    if not arrivals:
        raise ValueError("no recorded interactions in queues of this config")
    start, end = arrivals[0].at, arrivals[-1].at + 1.0
    first_day = datetime.fromtimestamp(start, tz=zone).date()
    last_day = datetime.fromtimestamp(end, tz=zone).date()
    n_days = (last_day - first_day).days + 1
    day_starts = [
        datetime.combine(first_day + timedelta(days=d), time(0), tzinfo=zone).timestamp()
        for d in range(n_days + 1)
    ]
    sim = Simulation(
        centre,
        traffic,
        iter(arrivals),
        start=start,
        end=end,
        day_starts=day_starts,
        seed=seed,
        tz=zone,
        router_factory=router_factory,
        progress=progress,
        label="replaying",
    )
    before = before_stats(kept, centre)
    before.tz = zone
    return sim.run(), before, warnings


def compare_rows(before: Stats, after: Stats, queues: Iterable[str]) -> list[dict[str, Any]]:
    """Per queue and in total: offered, SL %, ASA, abandon % and max wait, before and after."""
    rows = []
    b_tot, a_tot = before.queue_totals(), after.queue_totals()
    names = [q for q in queues if q in b_tot or q in a_tot]
    for name, b, a in [
        *((q, b_tot.get(q, QueueAcc()), a_tot.get(q, QueueAcc())) for q in names),
        ("(all)", before.total(names), after.total(names)),
    ]:
        fb, fa = b.figures(), a.figures()
        rows.append(
            {
                "queue": name,
                "offered_before": fb["offered"],
                "offered_after": fa["offered"],
                **{
                    f"{k}_{w}": f[k]
                    for k in ("sl_pct", "asa_s", "abandon_pct", "max_wait_s")
                    for w, f in (("before", fb), ("after", fa))
                },
            }
        )
    return rows


def utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)
