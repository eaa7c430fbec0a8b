"""The discrete-event simulator: the world around a router, in virtual time.

The simulator plays callers (arrivals, patience), agents (answering, ring-no-answer,
handle and wrap-up time, shifts, breaks, pauses) and the clock. Routing is the router's
alone: the production `Router` (or any model with the same `handle(event, now)`
interface, such as the app_queue emulation), so what is measured is the real thing.

The calendar is a heap of (time, seq, kind, a, b). Before each calendar entry the
router's own next timer is looked at, and a `Tick` is sent at exactly that time when it
comes first, so escalation steps, offer timeouts, wrap-up ends and max waits fire at the
virtual times they are due. Only live interactions are held; results are running sums.
"""

from __future__ import annotations

import heapq
import math
import random
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import structlog

from cc_router.core import commands as cmd
from cc_router.core import events as ev
from cc_router.core.expr import SkillIndex, parse
from cc_router.core.router import Router
from cc_router.core.spec import CentreSpec
from cc_router.core.vocabulary import CONTINUING_OUTCOMES, AgentState, DeclineReason
from cc_router.sim.arrivals import Arrival
from cc_router.sim.dists import Sampler
from cc_router.sim.stats import Stats
from cc_router.sim.traffic import DAY_S, Traffic, WrapupMode

log = structlog.get_logger("cc_router.sim")


class _HasWaiting(Protocol):
    @property
    def waiting(self) -> int: ...


class RoutingModel(Protocol):
    """What the simulator drives: the production core, or a competitor's model."""

    @property
    def queues(self) -> Mapping[str, _HasWaiting]: ...

    def handle(self, event: ev.Event, now: float) -> list[cmd.Command]: ...

    def next_timer_at(self) -> float | None: ...


RouterFactory = Callable[[CentreSpec], RoutingModel]

# calendar entry kinds
_ARRIVE, _ABANDON, _ACCEPT, _NO_ANSWER, _END, _WRAP_DONE = range(6)
_LOGIN, _LOGOUT, _BREAK, _RANDOM_PAUSE, _SAMPLE, _DAY = range(6, 12)

_TICK = ev.Tick()
# Module names for the states the calendar loop compares against (enum members are read
# through a slower attribute hook).
_LOGGED_OUT, _PAUSED, _WRAP_UP = AgentState.LOGGED_OUT, AgentState.PAUSED, AgentState.WRAP_UP
DRAIN_S = 3 * 3600.0
"""After the last arrival, interactions still live get this long to finish."""


@dataclass(slots=True)
class _Live:
    handle_s: float
    connected: bool = False


@dataclass(slots=True)
class SimResult:
    stats: Stats
    start: float
    end: float
    wall_s: float
    events: int
    ticks: int
    arrivals: int
    unfinished: int
    rejected: int
    centre: CentreSpec
    tz: ZoneInfo
    extras: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """Whole-run figures for voice queues (other channels have SL thresholds in hours
        and would swamp the averages; they are in the per-queue rows)."""
        voice = [q.name for q in self.centre.queues if q.channel == "voice"]
        total = self.stats.total(voice)
        return {
            "channel": "voice",
            **total.figures(),
            **self.stats.occupancy_spread(),
            "arrivals": self.arrivals,
            "unfinished": self.unfinished,
            "rejected_events": self.rejected,
            "router_events": self.events,
            "ticks": self.ticks,
            "wall_s": round(self.wall_s, 2),
            "sim_hours": round((self.end - self.start) / 3600.0, 2),
        }


def agent_groups(centre: CentreSpec) -> list[tuple[str, ...]]:
    """Groups each agent's time counts in: its pool, its profile, each queue it can serve
    at the queue's first step."""
    index = SkillIndex()
    for a in centre.agents:
        index.add(a.id, a.skills)
    eligible: dict[str, list[str]] = {a.id: [] for a in centre.agents}
    for q in centre.queues:
        for aid in index.members(parse(q.requirement, centre.skills)):
            eligible[aid].append(f"queue:{q.name}")
    return [(f"pool:{a.pool}", f"profile:{a.profile}", *eligible[a.id]) for a in centre.agents]


def prepare_centre(centre: CentreSpec, traffic: Traffic) -> CentreSpec:
    """The centre as the simulated floor runs it: with agent-ended wrap-up, each queue's
    wrap-up time becomes the cap the core enforces."""
    wrap = traffic.agents.wrapup
    if wrap.mode is WrapupMode.AGENT:
        queues = tuple(replace(q, wrapup_s=wrap.max_s) for q in centre.queues)
        return replace(centre, queues=queues)
    return centre


class Simulation:
    def __init__(
        self,
        centre: CentreSpec,
        traffic: Traffic,
        arrivals: Iterator[Arrival],
        *,
        start: float,
        end: float,
        day_starts: list[float],
        seed: int = 1,
        tz: ZoneInfo | None = None,
        router_factory: RouterFactory = Router,
        progress: bool | None = None,
        label: str = "simulating",
    ) -> None:
        self.centre = prepare_centre(centre, traffic)
        self.traffic = traffic
        self.router = router_factory(self.centre)
        self.tz = tz or ZoneInfo("UTC")
        self.arrivals = arrivals
        self.start = start
        self.end = end
        self.day_starts = day_starts
        self.seed = seed
        self.progress = sys.stderr.isatty() if progress is None else progress
        self.label = label
        self.agent_ids = [a.id for a in self.centre.agents]
        self.agent_index = {aid: i for i, aid in enumerate(self.agent_ids)}
        self.stats = Stats({q.name: q.service_level_s for q in self.centre.queues}, clip_end=end, tz=self.tz)
        self.stats.agent_groups = agent_groups(self.centre)
        self.stats.agent_totals = [[0.0] * 5 for _ in self.agent_ids]
        self.queue_names = [q.name for q in self.centre.queues]
        self.behaviour_rng = random.Random(f"{seed}:agents")
        self.staff_rng = random.Random(f"{seed}:staff")
        beh = traffic.agents
        self.ring_delay: Sampler = beh.ring_delay.sampler()
        self.no_answer_p = beh.no_answer_p
        self.wrap_time: Sampler | None = (
            beh.wrapup.time.sampler()
            if beh.wrapup.mode is WrapupMode.AGENT and beh.wrapup.time is not None
            else None
        )
        self.shifts = self._assign_shifts()
        self.pause_samplers = [p.duration.sampler() for p in traffic.pauses]
        self._cal: list[tuple[float, int, int, Any, Any]] = []
        self._seq = 0
        self.live: dict[str, _Live] = {}
        self.pending: dict[str, tuple[str, str]] = {}
        self.state: list[str] = [_LOGGED_OUT] * len(self.agent_ids)
        self.state_since: list[float] = [start] * len(self.agent_ids)
        self.wrap_seq: list[int] = [0] * len(self.agent_ids)
        self.now = start
        self.events = 0
        self.ticks = 0
        self.n_arrivals = 0
        self.rejected = 0
        self._next_id = 0

    # ------------------------------------------------------------------ staffing

    def _assign_shifts(self) -> list[list[tuple[float, float]]]:
        """Per agent, its (start, end) clock times in a day; one shift per agent per rule
        set, taken in the order agents are declared."""
        agents = self.centre.agents
        if not self.traffic.shifts:
            return [[(0.0, float(DAY_S))] for _ in agents]
        out: list[list[tuple[float, float]]] = [[] for _ in agents]
        taken = [False] * len(agents)
        for sh in self.traffic.shifts:
            matching = [i for i, a in enumerate(agents) if not taken[i] and sh.matches(a)]
            k = round(len(matching) * sh.share)
            for i in matching[:k]:
                taken[i] = True
                out[i].append((sh.start, sh.end))
        return out

    def _schedule_day(self, d: int) -> None:
        ds = self.day_starts[d]
        agents = self.centre.agents
        rng = self.staff_rng
        for i, shifts in enumerate(self.shifts):
            for s, e in shifts:
                if ds + s < self.end:
                    self._push(max(ds + s, self.start), _LOGIN, i, None)
                if e < DAY_S and ds + e < self.end:
                    self._push(ds + e, _LOGOUT, i, None)
                for bi, br in enumerate(self.traffic.breaks):
                    if s <= br.at < e and br.matches(agents[i]):
                        at = ds + br.at + (rng.uniform(0, br.spread_s) if br.spread_s else 0.0)
                        if at < min(ds + e, self.end):
                            self._push(at, _BREAK, i, bi)
                for pi, p in enumerate(self.traffic.pauses):
                    if p.matches(agents[i]):
                        at = ds + s + rng.expovariate(p.per_hour / 3600.0)
                        if at < min(ds + e, self.end):
                            self._push(at, _RANDOM_PAUSE, i, (pi, ds + e))
        if d + 1 < len(self.day_starts) - 1 and self.day_starts[d + 1] < self.end:
            self._push(self.day_starts[d + 1], _DAY, d + 1, None)

    # ------------------------------------------------------------------ calendar

    def _push(self, t: float, kind: int, a: Any, b: Any) -> None:
        self._seq += 1
        heapq.heappush(self._cal, (t, self._seq, kind, a, b))

    def _next_arrival(self) -> None:
        for arr in self.arrivals:
            if arr.at >= self.end:
                break
            if arr.at >= self.start:
                self._push(arr.at, _ARRIVE, arr, None)
                return

    def run(self) -> SimResult:
        t_wall = time.perf_counter()
        first_day = max(0, next((d for d, s in enumerate(self.day_starts) if s > self.start), 1) - 1)
        self._schedule_day(first_day)
        self._next_arrival()
        self._push(self.start, _SAMPLE, None, None)
        bar = _Progress(self.label, self.start, self.end) if self.progress else None
        cal = self._cal
        router = self.router
        handle = router.handle
        next_timer = router.next_timer_at
        process = self._process
        hard_stop = self.end + DRAIN_S
        n = 0
        try:
            while True:
                nt = next_timer()
                if cal:
                    t_cal = cal[0][0]
                    # On a tie the core's timer goes first: a real deadline beats a late report.
                    if nt is not None and nt <= t_cal:
                        t = nt if nt > self.now else self.now
                        if t > self.end and (not self.live or t > hard_stop):
                            break
                        self.now = t
                        self.ticks += 1
                        process(handle(_TICK, t), t)
                        continue
                elif nt is None:
                    break
                else:
                    t = nt if nt > self.now else self.now
                    if t > self.end and (not self.live or t > hard_stop):
                        break
                    self.now = t
                    self.ticks += 1
                    process(handle(_TICK, t), t)
                    continue
                t, _s, kind, a, b = heapq.heappop(cal)
                if t > self.end and (not self.live or t > hard_stop):
                    break
                self.now = t
                self._dispatch(kind, a, b, t)
                n += 1
                if bar is not None and not n & 0x3FFF:
                    bar.update(t)
        finally:
            if bar is not None:
                bar.close()
        end_t = min(self.now, self.end) if self.now > self.end else self.end
        for i, st in enumerate(self.state):
            self.stats.agent_time(i, st, self.state_since[i], end_t)
        return SimResult(
            stats=self.stats,
            start=self.start,
            end=self.end,
            wall_s=time.perf_counter() - t_wall,
            events=self.events + self.ticks,
            ticks=self.ticks,
            arrivals=self.n_arrivals,
            unfinished=len(self.live),
            rejected=self.rejected,
            centre=self.centre,
            tz=self.tz,
        )

    def _send(self, event: ev.Event, t: float) -> None:
        self.events += 1
        self._process(self.router.handle(event, t), t)

    def _dispatch(self, kind: int, a: Any, b: Any, t: float) -> None:
        if kind == _ARRIVE:
            arr: Arrival = a
            self._next_id += 1
            iid = f"i{self._next_id}"
            self.n_arrivals += 1
            self.live[iid] = _Live(arr.handle_s)
            if arr.patience_s != math.inf:
                self._push(t + arr.patience_s, _ABANDON, iid, None)
            self._next_arrival()
            self._send(ev.InteractionArrived(iid, arr.queue, arr.priority, arr.caller, arr.attributes), t)
        elif kind == _ACCEPT:
            p = self.pending.pop(a, None)
            if p is not None:
                self._send(ev.OfferAccepted(p[0], p[1]), t)
        elif kind == _END:
            if a in self.live:
                self._send(ev.InteractionEnded(a, "agent"), t)
        elif kind == _ABANDON:
            rec = self.live.get(a)
            if rec is not None and not rec.connected:
                self._send(ev.InteractionAbandoned(a), t)
        elif kind == _NO_ANSWER:
            p = self.pending.pop(a, None)
            if p is not None:
                self._send(ev.OfferDeclined(p[0], p[1], DeclineReason.NO_ANSWER), t)
        elif kind == _WRAP_DONE:
            if self.wrap_seq[a] == b and self.state[a] == _WRAP_UP:
                self._send(ev.AgentWrapUpDone(self.agent_ids[a]), t)
        elif kind == _SAMPLE:
            qs = self.router.queues
            self.stats.sample_waiting(t, ((name, qs[name].waiting) for name in self.queue_names))
            if t + self.traffic.sample_s < self.end:
                self._push(t + self.traffic.sample_s, _SAMPLE, None, None)
        elif kind == _LOGIN:
            if self.state[a] == _LOGGED_OUT:
                self._send(ev.AgentLoggedIn(self.agent_ids[a]), t)
        elif kind == _LOGOUT:
            self._send(ev.AgentLoggedOut(self.agent_ids[a]), t)
        elif kind == _BREAK:
            if self.state[a] != _LOGGED_OUT:
                br = self.traffic.breaks[b]
                self._send(ev.AgentPaused(self.agent_ids[a], br.reason, br.duration_s), t)
        elif kind == _RANDOM_PAUSE:
            pi, until = b
            p = self.traffic.pauses[pi]
            dur = self.pause_samplers[pi].draw(self.staff_rng)
            if self.state[a] != _LOGGED_OUT and self.state[a] != _PAUSED:
                self._send(ev.AgentPaused(self.agent_ids[a], p.reason, dur), t)
            nxt = t + dur + self.staff_rng.expovariate(p.per_hour / 3600.0)
            if nxt < min(until, self.end):
                self._push(nxt, _RANDOM_PAUSE, a, b)
        elif kind == _DAY:
            self._schedule_day(a)

    def _process(self, out: list[cmd.Command], t: float) -> None:
        # Dispatch on the exact type (not isinstance): this runs for every command of
        # every event, and the command classes are final dataclasses.
        for c in out:
            ct = type(c)
            if ct is cmd.AgentStateChanged:
                sc: cmd.AgentStateChanged = c  # type: ignore[assignment]
                i = self.agent_index[sc.agent_id]
                self.stats.agent_time(i, sc.previous, sc.previous_since, sc.at)
                self.state[i] = sc.state
                self.state_since[i] = sc.at
                if sc.state == "wrap_up" and self.wrap_time is not None:
                    self.wrap_seq[i] += 1
                    self._push(t + self.wrap_time.draw(self.behaviour_rng), _WRAP_DONE, i, self.wrap_seq[i])
            elif ct is cmd.Offer:
                o: cmd.Offer = c  # type: ignore[assignment]
                self.pending[o.offer_id] = (o.interaction_id, o.agent_id)
                rng = self.behaviour_rng
                if self.no_answer_p and rng.random() < self.no_answer_p:
                    self._push(t + o.timeout_s, _NO_ANSWER, o.offer_id, None)
                else:
                    delay = self.ring_delay.draw(rng)
                    if delay >= o.timeout_s:
                        self._push(t + o.timeout_s, _NO_ANSWER, o.offer_id, None)
                    else:
                        self._push(t + delay, _ACCEPT, o.offer_id, None)
            elif ct is cmd.InteractionConnected:
                ic: cmd.InteractionConnected = c  # type: ignore[assignment]
                rec = self.live.get(ic.interaction_id)
                if rec is not None:
                    rec.connected = True
                    self._push(t + rec.handle_s, _END, ic.interaction_id, None)
            elif ct is cmd.InteractionFinished:
                f: cmd.InteractionFinished = c  # type: ignore[assignment]
                self.stats.on_finished(f)
                if f.outcome not in CONTINUING_OUTCOMES:
                    self.live.pop(f.interaction_id, None)
            elif ct is cmd.CancelOffer:
                co: cmd.CancelOffer = c  # type: ignore[assignment]
                self.pending.pop(co.offer_id, None)
            elif ct is cmd.EventRejected:
                rj: cmd.EventRejected = c  # type: ignore[assignment]
                self.rejected += 1
                if self.rejected <= 10:
                    log.warning("sim_event_rejected", reason=rj.reason, rejected=repr(rj.event))


class _Progress:
    """A rich progress bar over virtual time (only on a terminal)."""

    def __init__(self, label: str, start: float, end: float) -> None:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self.start = start
        self.p = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[clock]}"),
            TimeElapsedColumn(),
            transient=True,
        )
        self.task = self.p.add_task(label, total=max(1.0, end - start), clock="")
        self.p.start()

    def update(self, t: float) -> None:
        h = (t - self.start) / 3600.0
        self.p.update(self.task, completed=t - self.start, clock=f"{h:6.1f} h simulated")

    def close(self) -> None:
        self.p.stop()
