"""The routing core under a busy centre's event mix, and a brute-force router beside it.

The centre is brought to steady state first (every agent logged in and working, a
backlog waiting), then a measured run mixes arrivals, answers, hang-ups, wrap-ups,
pauses and ticks. Each `handle` call is timed on its own.
"""

from __future__ import annotations

import gc
import random
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cc_router import collector
from cc_router.core import Router
from cc_router.core import commands as cmd
from cc_router.core import events as ev
from cc_router.core.naive import NaiveRouter
from cc_router.core.spec import CentreSpec


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass
class Driver:
    """Plays agents and callers: answers offers, ends calls, finishes wrap-up."""

    router: Router
    rng: random.Random
    queues: list[str]
    now: float = 0.0
    seq: int = 0
    offers: dict[str, str] = field(default_factory=dict)  # interaction -> agent
    connected: list[str] = field(default_factory=list)
    wrapping: list[str] = field(default_factory=list)
    paused: list[str] = field(default_factory=list)
    log: list[tuple[ev.Event, float]] = field(default_factory=list)
    log_limit: int = 0
    """Timed events kept for the brute-force replay: only as many as it replays, since
    keeping every event alive would feed the collector objects the router never keeps."""
    timings_ns: list[int] = field(default_factory=list)
    gc: GcWatch = field(default_factory=lambda: GcWatch())
    kinds: list[str] = field(default_factory=list)
    """The event kind of each timed event (a Tick that fired timers counts by the timers)."""

    def send(self, event: ev.Event, timed: bool = False) -> list[cmd.Command]:
        if timed:
            t0 = time.perf_counter_ns()
            out = self.router.handle(event, self.now)
            self.timings_ns.append(time.perf_counter_ns() - t0)
            if len(self.log) < self.log_limit:
                self.log.append((event, self.now))
            self.kinds.append(event_kind(event, out))
        else:
            out = self.router.handle(event, self.now)
        for c in out:
            if isinstance(c, cmd.Offer):
                self.offers[c.interaction_id] = c.agent_id
            elif isinstance(c, cmd.CancelOffer):
                self.offers.pop(c.interaction_id, None)
            elif isinstance(c, cmd.AgentStateChanged) and c.state == "wrap_up":
                self.wrapping.append(c.agent_id)
        return out

    def arrival(self, timed: bool = False) -> bool:
        self.seq += 1
        q = self.queues[self.rng.randrange(len(self.queues))]
        self.send(ev.InteractionArrived(f"i{self.seq}", q, priority=self.rng.choice((0, 0, 0, 1))), timed)
        return True

    def answer(self, timed: bool = False) -> bool:
        if not self.offers:
            return False
        iid = next(iter(self.offers))
        agent = self.offers.pop(iid)
        self.send(ev.OfferAccepted(iid, agent), timed)
        self.connected.append(iid)
        return True

    def hang_up(self, timed: bool = False) -> bool:
        if not self.connected:
            return False
        i = self.rng.randrange(len(self.connected))
        self.connected[i], self.connected[-1] = self.connected[-1], self.connected[i]
        self.send(ev.InteractionEnded(self.connected.pop()), timed)
        return True

    def wrap_done(self, timed: bool = False) -> bool:
        if not self.wrapping:
            return False
        self.send(ev.AgentWrapUpDone(self.wrapping.pop(0)), timed)
        return True

    def pause_toggle(self, agents: list[str], timed: bool = False) -> None:
        if self.paused and self.rng.random() < 0.5:
            self.send(ev.AgentUnpaused(self.paused.pop(0)), timed)
        else:
            a = agents[self.rng.randrange(len(agents))]
            self.paused.append(a)
            self.send(ev.AgentPaused(a, "break"), timed)


def event_kind(event: ev.Event, out: list[cmd.Command]) -> str:
    """What an event did, coarsely: its type, and for a tick the timers it fired."""
    kind = type(event).__name__
    if isinstance(event, ev.Tick):
        fired = {type(c).__name__ for c in out if not isinstance(c, cmd.AgentStateChanged)}
        return f"Tick({'+'.join(sorted(fired))})" if fired else "Tick"
    if any(isinstance(c, cmd.Offer) for c in out):
        kind += "+Offer"
    return kind


@dataclass
class GcWatch:
    """Collections during the measured run, by generation, and their total pause."""

    counts: list[int] = field(default_factory=lambda: [0, 0, 0])
    pause_ns: list[int] = field(default_factory=lambda: [0, 0, 0])
    max_pause_ns: list[int] = field(default_factory=lambda: [0, 0, 0])
    """The longest single collection per generation: what GC adds to one event, apart
    from the host's own preemptions (which the run's `max_us` also holds)."""
    _t0: int = 0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._t0 = time.perf_counter_ns()
        else:
            gen = info["generation"]
            pause = time.perf_counter_ns() - self._t0
            self.counts[gen] += 1
            self.pause_ns[gen] += pause
            if pause > self.max_pause_ns[gen]:
                self.max_pause_ns[gen] = pause


def by_kind(kinds: list[str], timings_ns: list[int]) -> dict[str, dict[str, float]]:
    """Per event kind: how many, p50/p99/max, and its share of the overall tail (> p99)."""
    cut = percentile(timings_ns, 0.99) * 1000
    groups: dict[str, list[int]] = {}
    for k, t in zip(kinds, timings_ns, strict=True):
        groups.setdefault(k, []).append(t)
    tail = sum(1 for t in timings_ns if t > cut) or 1
    return {
        k: {
            "n": len(ts),
            "p50_us": round(percentile(ts, 0.50), 1),
            "p99_us": round(percentile(ts, 0.99), 1),
            "max_us": round(percentile(ts, 1.0), 1),
            "tail_share": round(sum(1 for t in ts if t > cut) / tail, 3),
        }
        for k, ts in sorted(groups.items(), key=lambda kv: -len(kv[1]))
    }


def prepare(centre: CentreSpec, waiting: int, seed: int, cls: type[Router] = Router) -> Driver:
    router = cls(centre)
    rng = random.Random(seed)
    queues = [q.name for q in centre.queues if q.channel == "voice"]
    d = Driver(router, rng, queues)
    for a in centre.agents:
        d.now += 0.001
        d.send(ev.AgentLoggedIn(a.id))
    # Fill every seat, then build the backlog.
    while len(d.router.interactions) - len(d.offers) - len(d.connected) < waiting:
        d.now += 0.001
        d.arrival()
        while d.offers:
            d.answer()
    return d


MIX: tuple[tuple[str, float], ...] = (
    ("arrival", 0.22),
    ("answer", 0.22),
    ("hang_up", 0.22),
    ("wrap_done", 0.22),
    ("pause", 0.04),
    ("tick", 0.08),
)


def measure(d: Driver, events: int, agents: list[str], waiting: int) -> None:
    names = [m[0] for m in MIX]
    weights = [m[1] for m in MIX]
    queues = list(d.router.queues.values())

    def arrival() -> Any:
        # Keep the backlog near its target so every size is measured at the same load.
        if sum(q.waiting for q in queues) < waiting:
            return d.arrival(True)
        return d.send(ev.Tick(), True)

    steps: dict[str, Callable[[], Any]] = {
        "arrival": arrival,
        "answer": lambda: d.answer(True) or arrival(),
        "hang_up": lambda: d.hang_up(True) or arrival(),
        "wrap_done": lambda: d.wrap_done(True) or d.send(ev.Tick(), True),
        "pause": lambda: d.pause_toggle(agents, True),
        "tick": lambda: d.send(ev.Tick(), True),
    }
    # As the service does once the centre is built (collector.py).
    thresholds = collector.settle()
    gc.callbacks.append(d.gc)
    try:
        for _ in range(events):
            d.now += 0.002
            steps[d.rng.choices(names, weights)[0]]()
    finally:
        gc.callbacks.remove(d.gc)
        gc.unfreeze()
        gc.set_threshold(*thresholds)


def percentile(values: list[int], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(p * len(s)))] / 1000.0


def replay(router: Router, log: list[tuple[ev.Event, float]]) -> list[int]:
    timings: list[int] = []
    for event, now in log:
        t0 = time.perf_counter_ns()
        router.handle(event, now)
        timings.append(time.perf_counter_ns() - t0)
    return timings


def repeated_minimum(centre: CentreSpec, waiting: int, seed: int, first: Driver, more: int) -> list[int]:
    """Per event, the least time it took in `first`'s run and `more` identical ones (same
    seeds, so the same events in the same states): what the host's other load added to
    one run or another is mostly gone; what the event itself costs, collections
    included (they fall on the same events each run), stays."""
    ids = [a.id for a in centre.agents]
    best = first.timings_ns
    for _ in range(more):
        d = prepare(centre, waiting, seed)
        d.log_limit = first.log_limit
        measure(d, len(first.timings_ns), ids, waiting)
        best = [min(a, b) for a, b in zip(best, d.timings_ns, strict=True)]
        del d
        gc.collect()
    return best


def run_case(
    agents: int, skills: int, events: int, naive_events: int, seed: int = 1, repeats: int = 3
) -> list[dict[str, Any]]:
    from cc_router.config.generate import generate_centre

    centre = generate_centre(agents=agents, skills=skills, queues=60, seed=seed)
    waiting = 5_000
    base_rss = rss_mb()
    t0 = time.perf_counter()
    d = prepare(centre, waiting, seed)
    setup_s = time.perf_counter() - t0
    ids = [a.id for a in centre.agents]
    d.log_limit = naive_events
    measure(d, events, ids, waiting)
    total_s = sum(d.timings_ns) / 1e9
    now_waiting = sum(1 for _ in d.router.waiting())
    row: dict[str, Any] = {
        "name": f"core_{agents}",
        "agents": agents,
        "skills": skills,
        "queues": len(centre.queues),
        "waiting": now_waiting,
        "events": len(d.timings_ns),
        "events_per_s": round(len(d.timings_ns) / total_s),
        "p50_us": round(percentile(d.timings_ns, 0.50), 1),
        "p99_us": round(percentile(d.timings_ns, 0.99), 1),
        "max_us": round(percentile(d.timings_ns, 1.0), 1),
        "rss_mb": round(rss_mb(), 1),
        "router_rss_mb": round(rss_mb() - base_rss, 1),
        "setup_s": round(setup_s, 2),
        "gc_collections": d.gc.counts,
        "gc_pause_ms": [round(p / 1e6, 2) for p in d.gc.pause_ns],
        "gc_max_pause_ms": [round(p / 1e6, 2) for p in d.gc.max_pause_ns],
        "by_kind": by_kind(d.kinds, d.timings_ns),
    }
    if repeats > 1:
        best = repeated_minimum(centre, waiting, seed, d, repeats - 1)
        row["repeats"] = repeats
        row["events_per_s_min_of_runs"] = round(len(best) / (sum(best) / 1e9))
        row["p50_us_min_of_runs"] = round(percentile(best, 0.50), 1)
        row["p99_us_min_of_runs"] = round(percentile(best, 0.99), 1)
        row["max_us_min_of_runs"] = round(percentile(best, 1.0), 1)
        row["by_kind_min_of_runs"] = by_kind(d.kinds, best)
    rows = [row]
    if naive_events:
        # Same centre, same starting state, same events: only the decision method differs.
        # The brute-force router shares every structure with the indexed one and differs
        # only in its decision methods, so the same prepared state serves both.
        naive = prepare(centre, waiting, seed).router
        naive.__class__ = NaiveRouter
        head = d.log[:naive_events]
        fast_again = prepare(centre, waiting, seed).router
        fast_t = replay(fast_again, head)
        slow_t = replay(naive, head)
        rows.append(
            {
                "name": f"naive_{agents}",
                "agents": agents,
                "skills": skills,
                "waiting": now_waiting,
                "events": len(slow_t),
                "events_per_s": round(len(slow_t) / (sum(slow_t) / 1e9)),
                "p50_us": round(percentile(slow_t, 0.50), 1),
                "p99_us": round(percentile(slow_t, 0.99), 1),
                "rss_mb": round(rss_mb(), 1),
                "indexed_p99_us_same_events": round(percentile(fast_t, 0.99), 1),
                "p99_ratio_naive_over_indexed": round(
                    percentile(slow_t, 0.99) / max(percentile(fast_t, 0.99), 0.001), 1
                ),
                "mean_ratio_naive_over_indexed": round(sum(slow_t) / max(sum(fast_t), 1), 1),
            }
        )
    return rows
