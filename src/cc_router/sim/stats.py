"""Per-interval aggregates, kept as running sums so memory does not grow with call volume.

Queue figures follow `cc_router.store.reports`: an interaction counts in the interval in
which it entered the queue, and

    sl_pct = 100 * answered_within_sl / (answered + abandoned_after_sl)

Agent figures are seconds per state, split at interval boundaries, summed per group (a
seat pool, a profile, or the agents eligible for a queue at its first step). Occupancy is
(reserved + busy + wrap-up) / (ready + reserved + busy + wrap-up): paused time is neither.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, tzinfo
from typing import Any

from cc_router.core.commands import InteractionFinished
from cc_router.core.reporting import VisitTally
from cc_router.core.vocabulary import AgentState
from cc_router.sim.traffic import INTERVAL_S

# The simulated centre has one PBX that never fails: no agent is ever `unavailable`.
STATES = tuple(s.value for s in AgentState if s not in (AgentState.LOGGED_OUT, AgentState.UNAVAILABLE))
STATE_INDEX = {s: i for i, s in enumerate(STATES)}


@dataclass(slots=True)
class QueueAcc(VisitTally):
    delayed: int = 0
    """Interactions that waited at all (found no free agent, or rang one first)."""
    max_wait_s: float = 0.0
    waiting_sum: float = 0.0
    waiting_samples: int = 0
    waiting_max: int = 0

    def add(self, other: QueueAcc) -> None:
        for f in fields(self):
            name = f.name
            if name in ("max_wait_s", "waiting_max"):
                setattr(self, name, max(getattr(self, name), getattr(other, name)))
            else:
                setattr(self, name, getattr(self, name) + getattr(other, name))

    def figures(self) -> dict[str, Any]:
        divisor = self.answered + self.abandoned_after_sl
        return {
            "offered": self.offered,
            "answered": self.answered,
            "abandoned": self.abandoned,
            "abandoned_after_sl": self.abandoned_after_sl,
            "answered_within_sl": self.answered_within_sl,
            "overflowed": self.overflowed,
            "timed_out": self.timed_out,
            "other_exits": self.other_exits,
            "sl_pct": _r(100.0 * self.answered_within_sl / divisor) if divisor else None,
            "asa_s": _r(self.wait_answered / self.answered) if self.answered else None,
            "aht_s": _r(self.talk_answered / self.answered) if self.answered else None,
            "p_wait": _r(self.delayed / self.offered, 4) if self.offered else None,
            "abandon_pct": _r(100.0 * self.abandoned / self.offered) if self.offered else None,
            "max_wait_s": _r(self.max_wait_s),
            "waiting_mean": _r(self.waiting_sum / self.waiting_samples) if self.waiting_samples else None,
            "waiting_max": self.waiting_max,
        }


def _r(x: float, digits: int = 3) -> float:
    return round(x, digits)


def occupancy(seconds: Sequence[float]) -> float | None:
    ready, reserved, busy, wrap, _paused = seconds
    working = reserved + busy + wrap
    total = working + ready
    return working / total if total > 0 else None


@dataclass(slots=True)
class Stats:
    service_levels: Mapping[str, float]
    queue_rows: dict[tuple[int, str], QueueAcc] = field(default_factory=dict)
    group_rows: dict[tuple[int, str], list[float]] = field(default_factory=dict)
    agent_totals: list[list[float]] = field(default_factory=list)
    agent_groups: list[tuple[str, ...]] = field(default_factory=list)
    clip_end: float = math.inf
    tz: tzinfo = UTC
    finished: int = 0
    rejected: int = 0

    def queue_acc(self, t: float, queue: str) -> QueueAcc:
        key = (int(t // INTERVAL_S), queue)
        acc = self.queue_rows.get(key)
        if acc is None:
            acc = self.queue_rows[key] = QueueAcc()
        return acc

    def on_finished(self, c: InteractionFinished) -> None:
        self.on_visit(c.queue, c.enqueued_at, c.outcome, c.wait_s, c.talk_s, c.answered_at is not None)

    def on_visit(
        self, queue: str, enqueued_at: float, outcome: str, wait: float, talk_s: float, answered: bool
    ) -> None:
        """One visit to one queue ended; `outcome` is an `Outcome`, or anything else for
        an exit recorded elsewhere that the core has no word for."""
        self.finished += 1
        a = self.queue_acc(enqueued_at, queue)
        a.count(outcome, wait, talk_s, answered, self.service_levels.get(queue, 20.0))
        if wait > 0.0:
            a.delayed += 1
        if wait > a.max_wait_s:
            a.max_wait_s = wait

    def sample_waiting(self, t: float, counts: Iterable[tuple[str, int]]) -> None:
        for queue, n in counts:
            a = self.queue_acc(t, queue)
            a.waiting_sum += n
            a.waiting_samples += 1
            if n > a.waiting_max:
                a.waiting_max = n

    def agent_time(self, agent: int, state: str, start: float, end: float) -> None:
        idx = STATE_INDEX.get(state)
        if end > self.clip_end:
            end = self.clip_end
        if idx is None or end <= start:
            return
        self.agent_totals[agent][idx] += end - start
        groups = self.agent_groups[agent]
        rows = self.group_rows
        s = start
        while s < end:
            slot = int(s // INTERVAL_S)
            part_end = min(end, (slot + 1) * INTERVAL_S)
            d = part_end - s
            for g in groups:
                row = rows.get((slot, g))
                if row is None:
                    row = rows[(slot, g)] = [0.0] * len(STATES)
                row[idx] += d
            s = part_end

    # ------------------------------------------------------------------ results

    def queue_interval_rows(self, occupancy_by_queue: bool = True) -> list[dict[str, Any]]:
        out = []
        for (slot, queue), acc in sorted(self.queue_rows.items()):
            row: dict[str, Any] = {"interval_start": _iso(slot, self.tz), "queue": queue}
            row["service_level_s"] = self.service_levels.get(queue, 20.0)
            row.update(acc.figures())
            if occupancy_by_queue:
                g = self.group_rows.get((slot, f"queue:{queue}"))
                occ = occupancy(g) if g is not None else None
                row["occupancy"] = _r(occ) if occ is not None else None
            out.append(row)
        return out

    def group_interval_rows(self) -> list[dict[str, Any]]:
        out = []
        for (slot, group), secs in sorted(self.group_rows.items()):
            occ = occupancy(secs)
            out.append(
                {
                    "interval_start": _iso(slot, self.tz),
                    "group": group,
                    **{f"{s}_s": _r(v, 1) for s, v in zip(STATES, secs, strict=True)},
                    "idle_s": _r(secs[0], 1),
                    "talk_s": _r(secs[2], 1),
                    "occupancy": _r(occ) if occ is not None else None,
                }
            )
        return out

    def queue_totals(self) -> dict[str, QueueAcc]:
        out: dict[str, QueueAcc] = {}
        for (_slot, queue), acc in self.queue_rows.items():
            out.setdefault(queue, QueueAcc()).add(acc)
        return out

    def total(self, queues: Iterable[str] | None = None) -> QueueAcc:
        wanted = None if queues is None else set(queues)
        total = QueueAcc()
        for q, acc in self.queue_totals().items():
            if wanted is None or q in wanted:
                total.add(acc)
        return total

    def occupancy_spread(self, min_logged_in_s: float = 1800.0) -> dict[str, float | None]:
        """Across agents who were available long enough to mean something."""
        occs = []
        for secs in self.agent_totals:
            if sum(secs[:4]) >= min_logged_in_s:
                occ = occupancy(secs)
                if occ is not None:
                    occs.append(occ)
        if not occs:
            return {"occ_mean": None, "occ_stddev": None, "occ_min": None, "occ_max": None}
        return {
            "occ_mean": _r(statistics.fmean(occs)),
            "occ_stddev": _r(statistics.pstdev(occs)),
            "occ_min": _r(min(occs)),
            "occ_max": _r(max(occs)),
        }


def _iso(slot: int, tz: tzinfo) -> str:
    return datetime.fromtimestamp(slot * INTERVAL_S, tz=tz).isoformat()
