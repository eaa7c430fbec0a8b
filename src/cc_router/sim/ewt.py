"""How good is an expected-wait announcement? Measured on simulated callers.

`EwtProbe` wraps the production `Router` for the simulator: at each arrival, before the
router sees it, it asks cc-router's `Estimator` what a caller joining that queue would be
told, and computes app_queue's figure on the same caller; when the caller is connected,
it records the wait it really had (arrival to answer, across overflows). Callers who hang
up or leave by an exit never learn their wait and are not counted.

app_queue's method (apps/app_queue.c): each queue keeps `holdtime`, updated when a caller
is connected as `holdtime = (3 * holdtime + wait) >> 2` (integer seconds; the first call
sets it), and `say_position` announces `holdtime - waited`, so on entering a caller hears
the queue's `holdtime` whatever its position. `app_queue_x_position` is the variant that
multiplies `holdtime` by the caller's position, as the method is often described.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cc_router.core import commands as cmd
from cc_router.core import events as ev
from cc_router.core.estimate import Estimator
from cc_router.core.records import QueueRec
from cc_router.core.router import Router
from cc_router.core.spec import CentreSpec, Channel
from cc_router.core.vocabulary import Outcome, Stage

WITHIN_S = 30.0
_GOES_ON = frozenset({Outcome.OVERFLOWED, Outcome.MOVED})
METHODS = ("cc_router", "app_queue", "app_queue_x_position")


@dataclass(slots=True)
class _Entry:
    at: float
    told: dict[str, float | None]
    queued: bool = False


@dataclass(slots=True)
class Errors:
    """Absolute errors of one method, over the callers it gave a figure to."""

    n: int = 0
    abs_sum: float = 0.0
    within: int = 0
    bias_sum: float = 0.0
    unknown: int = 0

    def add(self, told: float | None, real: float) -> None:
        if told is None:
            self.unknown += 1
            return
        err = told - real
        self.n += 1
        self.abs_sum += abs(err)
        self.bias_sum += err
        self.within += abs(err) <= WITHIN_S

    def figures(self) -> dict[str, Any]:
        n = self.n
        return {
            "callers": n,
            "mae_s": round(self.abs_sum / n, 1) if n else None,
            "within_30s_pct": round(100.0 * self.within / n, 1) if n else None,
            "bias_s": round(self.bias_sum / n, 1) if n else None,
            "unknown": self.unknown,
        }


@dataclass(slots=True)
class _AppQueueHoldtime:
    holdtime: int = 0
    completed: int = 0


class EwtProbe:
    """A `RoutingModel` for the simulator: the production router, with the estimate
    each voice caller is told on entering and the wait it then had."""

    def __init__(self, centre: CentreSpec) -> None:
        self.router = Router(centre)
        self.estimator = Estimator(self.router)
        self.entries: dict[str, _Entry] = {}
        self.errors: dict[str, Errors] = {m: Errors() for m in METHODS}
        self.errors_queued: dict[str, Errors] = {m: Errors() for m in METHODS}
        """Only callers who found no agent free on entering: those an announcement is for."""
        self.holdtimes: dict[str, _AppQueueHoldtime] = {}
        self.voice = {q.name for q in centre.queues if q.channel is Channel.VOICE}

    @property
    def queues(self) -> Mapping[str, QueueRec]:
        return self.router.queues

    def next_timer_at(self) -> float | None:
        return self.router.next_timer_at()

    def handle(self, event: ev.Event, now: float) -> list[cmd.Command]:
        arriving = event if isinstance(event, ev.InteractionArrived) and event.queue in self.voice else None
        if arriving is not None:
            self._entering(arriving, now)
        out = self.router.handle(event, now)
        if arriving is not None:
            it = self.router.interactions.get(arriving.interaction_id)
            entry = self.entries.get(arriving.interaction_id)
            if entry is not None:
                entry.queued = it is not None and it.stage is Stage.WAITING
        self.estimator.observe(out)
        for c in out:
            if type(c) is cmd.InteractionConnected:
                self.on_connected(c)
            elif type(c) is cmd.InteractionFinished and c.outcome not in _GOES_ON:
                # Hung up or left by an exit: never learns its wait.
                self.entries.pop(c.interaction_id, None)
        return out

    def _entering(self, e: ev.InteractionArrived, now: float) -> None:
        q = self.router.queues[e.queue]
        position = q.waiting + 1
        aq = self.holdtimes.get(e.queue)
        aq_told = float(aq.holdtime) if aq is not None and aq.completed else None
        self.entries[e.interaction_id] = _Entry(
            now,
            {
                "cc_router": self.estimator.expected_wait_new(e.queue, now, e.priority),
                "app_queue": aq_told,
                "app_queue_x_position": aq_told * position if aq_told is not None else None,
            },
        )

    def on_connected(self, c: cmd.InteractionConnected) -> None:
        if c.queue in self.voice:
            # app_queue updates the queue the caller is connected from with its wait there.
            aq = self.holdtimes.setdefault(c.queue, _AppQueueHoldtime())
            wait = int(c.wait_s)
            aq.holdtime = wait if not aq.completed else (3 * aq.holdtime + wait) >> 2
            aq.completed += 1
        entry = self.entries.pop(c.interaction_id, None)
        if entry is None:
            return
        real = c.at - entry.at
        for method, told in entry.told.items():
            self.errors[method].add(told, real)
            if entry.queued:
                self.errors_queued[method].add(told, real)

    def figures(self) -> dict[str, Any]:
        return {
            "all_answered": {m: e.figures() for m, e in self.errors.items()},
            "queued_on_entry": {m: e.figures() for m, e in self.errors_queued.items()},
        }


@dataclass(slots=True)
class EwtCase:
    name: str
    centre: CentreSpec
    traffic: Any
    hours: tuple[float, float] | None = None
    tz: Any = None
    extra: dict[str, Any] = field(default_factory=dict)


def measure(case: EwtCase, seed: int = 1) -> dict[str, Any]:
    """Run the case under the probe; one JSON-ready row."""
    from cc_router.sim.run import simulate

    probes: list[EwtProbe] = []

    def factory(centre: CentreSpec) -> EwtProbe:
        probe = EwtProbe(centre)
        probes.append(probe)
        return probe

    result = simulate(
        case.centre,
        case.traffic,
        seed=seed,
        tz=case.tz,
        hours=case.hours,
        progress=False,
        router_factory=factory,
    )
    s = result.summary()
    return {
        "name": f"ewt_{case.name}",
        **case.extra,
        "arrivals": result.arrivals,
        "sl_pct": s.get("sl_pct"),
        "asa_s": s.get("asa_s"),
        "sim_hours": s.get("sim_hours"),
        "wall_s": s.get("wall_s"),
        "within_s": WITHIN_S,
        **probes[0].figures(),
    }


def single_skill_case(agents: int = 20, occupancy: float = 0.9, hours: float = 4.0) -> EwtCase:
    """One queue, one skill, `agents` agents, exponential handle times, impatient callers."""
    from cc_router.core.spec import AgentSpec, ProfileSpec, QueueSpec
    from cc_router.sim.traffic import parse_traffic

    aht = 180.0
    centre = CentreSpec(
        skills=frozenset({"s"}),
        profiles={"voice": ProfileSpec("voice")},
        agents=tuple(AgentSpec(f"a{i}", skills={"s": 1}) for i in range(agents)),
        queues=(QueueSpec("q", requirement="s", wrapup_s=10.0),),
    )
    rate = occupancy * agents * 3600.0 / (aht + 10.0)
    traffic = parse_traffic(
        {
            "defaults": {
                "handle": {"dist": "exponential", "mean_s": aht},
                "patience": {"dist": "exponential", "mean_s": 600},
            },
            "queues": {"q": {"rate_per_hour": rate}},
            "agents": {"ring_delay": {"dist": "fixed", "mean_s": 3}},
        }
    )
    return EwtCase(
        "single_skill",
        centre,
        traffic,
        hours=(8.0, 8.0 + hours),
        extra={"agents": agents, "offered_per_hour": round(rate), "occupancy_target": occupancy},
    )


def example_day_case(root: str, hours: tuple[float, float] | None = (8.0, 12.0)) -> EwtCase:
    """config/example.yaml under config/traffic-example.yaml (by default its morning)."""
    from pathlib import Path

    from cc_router.config import load_config
    from cc_router.sim.traffic import load_traffic

    cfg = load_config(Path(root) / "config" / "example.yaml")
    traffic = load_traffic(Path(root) / "config" / "traffic-example.yaml")
    label = "whole day" if hours is None else f"{hours[0]:g}:00-{hours[1]:g}:00"
    return EwtCase(
        "example_day",
        cfg.to_centre(),
        traffic,
        hours=hours,
        tz=cfg.centre.tz,
        extra={"config": "config/example.yaml", "traffic": "config/traffic-example.yaml", "hours": label},
    )


def ewt_bench_rows(root: str, small: bool = False) -> list[dict[str, Any]]:
    """The two measured cases; `small` shortens them to prove the bench runs."""
    single = single_skill_case(hours=1.0 if small else 8.0)
    day = example_day_case(root, (9.0, 10.0) if small else None)
    return [measure(single), measure(day)]
