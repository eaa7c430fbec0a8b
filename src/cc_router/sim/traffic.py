"""The traffic file: what the simulated world does (callers, agents, staffing).

```yaml
date: 2027-01-25              # the simulated day, in the centre's time zone
days: 1
scale: 1.0                    # multiplies every arrival rate (what-if: +20 % volume)
defaults:
  handle: {dist: lognormal, mean_s: 240, sd_s: 150}
  patience: {dist: exponential, mean_s: 150}
queues:
  general_zh:
    rate_per_hour: {"00:00": 20, "09:30": 900, "12:30": 450, "15:00": 800, "24:00": 20}
    handle: {dist: exponential, mean_s: 200}
agents:
  ring_delay: {dist: fixed, mean_s: 3}
  no_answer_p: 0.02
  wrapup: {mode: queue}       # or {mode: agent, time: {dist: ...}, max_s: 600}
shifts:
  - {pool: phase1_floor1, start: "07:00", end: "15:30", share: 0.5}
  - {ids: "2*", start: "08:00", end: "17:00"}
breaks:
  - {at: "10:00", spread_s: 3600, duration_s: 900, reason: break}
pauses:
  - {per_hour: 0.3, duration: {dist: exponential, mean_s: 180}, reason: personal}
```

Rates are calls per hour at the given clock times, joined by straight lines and taken at
the middle of each 15-minute interval; between interval boundaries arrivals are Poisson.
"""

from __future__ import annotations

import fnmatch
import itertools
import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Self
from zoneinfo import ZoneInfo

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from cc_router.core.reporting import INTERVAL_S as INTERVAL_S
from cc_router.core.spec import AgentSpec
from cc_router.sim.dists import Dist, DistKind

DAY_S = 86_400
_CLOCK_RE = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")


def clock_s(text: Any) -> float:
    """`"09:30"` -> 34200.0; `"24:00"` is the end of the day. YAML 1.1 may read `09:30`
    unquoted as a sexagesimal int (570): minutes, so 570 * 60 is the same instant."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        return float(text) * 60.0
    m = _CLOCK_RE.match(str(text).strip())
    if not m:
        raise ValueError(f"{text!r} is not a clock time HH:MM")
    h, mi, s = int(m[1]), int(m[2]), int(m[3] or 0)
    total = h * 3600 + mi * 60 + s
    if mi > 59 or s > 59 or total > DAY_S:
        raise ValueError(f"{text!r} is not a clock time between 00:00 and 24:00")
    return float(total)


Clock = Annotated[float, BeforeValidator(clock_s)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class QueueTraffic(_Model):
    rate_per_hour: float | dict[str, float] | None = Field(
        default=None, description="Calls per hour: a number, or {HH:MM: rate} joined by straight lines."
    )
    peak_per_hour: float | None = Field(
        default=None,
        ge=0,
        description="Calls per hour at the top of the file's `shape` (instead of rate_per_hour).",
    )
    handle: Dist | None = Field(default=None, description="Talk time; default: defaults.handle.")
    patience: Dist | None = Field(default=None, description="Time before hanging up unanswered.")
    priority: int = 0
    attributes: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_rate(self) -> Self:
        if self.rate_per_hour is not None and self.peak_per_hour is not None:
            raise ValueError("give rate_per_hour or peak_per_hour, not both")
        return self

    def rates_per_s(self, scale: float, shape: Mapping[str, float] | None = None) -> list[float]:
        """Arrival rate (per second) for each 15-minute interval of a day."""
        n = DAY_S // INTERVAL_S
        factor = scale / 3600.0
        curve: Mapping[str, float] | float
        if self.peak_per_hour is not None:
            if not shape:
                raise TrafficError("peak_per_hour needs a `shape` at the top of the traffic file")
            top = max(shape.values())
            curve = {k: self.peak_per_hour * v / top if top > 0 else 0.0 for k, v in shape.items()}
        else:
            curve = self.rate_per_hour or 0.0
        if not isinstance(curve, Mapping):
            return [max(0.0, float(curve)) * factor] * n
        points = sorted((clock_s(k), float(v)) for k, v in curve.items())
        if not points:
            return [0.0] * n
        return [max(0.0, _interpolate(points, (i + 0.5) * INTERVAL_S)) * factor for i in range(n)]


def _interpolate(points: Sequence[tuple[float, float]], t: float) -> float:
    if t <= points[0][0]:
        return points[0][1]
    for (t0, v0), (t1, v1) in itertools.pairwise(points):
        if t0 <= t <= t1:
            return v0 if t1 == t0 else v0 + (v1 - v0) * (t - t0) / (t1 - t0)
    return points[-1][1]


class Defaults(_Model):
    handle: Dist = Field(default_factory=lambda: Dist(dist=DistKind.EXPONENTIAL, mean_s=180))
    patience: Dist = Field(default_factory=lambda: Dist(dist=DistKind.NONE))


class WrapupMode(StrEnum):
    QUEUE = "queue"
    """The core's per-queue `wrapup_s` applies; agents never end it early."""
    AGENT = "agent"
    """Agents press "ready" after `time`; each queue's wrap-up is raised to `max_s` so the
    core holds them until then (its timer is only the cap)."""


class Wrapup(_Model):
    mode: WrapupMode = WrapupMode.QUEUE
    time: Dist | None = None
    max_s: float = Field(default=600.0, gt=0)

    @model_validator(mode="after")
    def _time_for_agent(self) -> Self:
        if self.mode is WrapupMode.AGENT and self.time is None:
            raise ValueError("wrapup mode agent needs `time` (a distribution)")
        return self


class AgentBehaviour(_Model):
    ring_delay: Dist = Field(
        default_factory=lambda: Dist(dist=DistKind.FIXED, mean_s=0.0),
        description="From offer to answer.",
    )
    no_answer_p: float = Field(default=0.0, ge=0, le=1, description="Share of offers left ringing.")
    wrapup: Wrapup = Field(default_factory=Wrapup)


class Selector(_Model):
    """Which agents: by seat pool, by profile and/or by id pattern (fnmatch); all when empty."""

    pool: str | None = None
    profile: str | None = None
    ids: str | None = None

    def matches(self, a: AgentSpec) -> bool:
        return (
            (self.pool is None or a.pool == self.pool)
            and (self.profile is None or a.profile == self.profile)
            and (self.ids is None or fnmatch.fnmatchcase(a.id, self.ids))
        )


class Shift(Selector):
    start: Clock = 0.0
    end: Clock = float(DAY_S)
    share: float = Field(
        default=1.0, gt=0, le=1, description="Part of the matching agents (not already on a shift)."
    )

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.end <= self.start:
            raise ValueError("a shift must end after it starts")
        return self


class Break(Selector):
    at: Clock
    spread_s: float = Field(default=0.0, ge=0, description="Starts spread evenly at random over this.")
    duration_s: float = Field(gt=0)
    reason: str = "break"


class RandomPause(Selector):
    per_hour: float = Field(gt=0, description="Pauses per logged-in hour, per agent (Poisson).")
    duration: Dist
    reason: str = "personal"


class Traffic(_Model):
    date: Annotated[date, Field(default_factory=lambda: date(2027, 1, 25))]
    days: int = Field(default=1, ge=1, le=366)
    scale: float = Field(default=1.0, ge=0)
    shape: dict[str, float] | None = Field(
        default=None, description="{HH:MM: relative volume}: the day's curve for queues with peak_per_hour."
    )
    sample_s: float = Field(default=60.0, gt=0, description="How often queue lengths are sampled.")
    defaults: Defaults = Field(default_factory=Defaults)
    queues: dict[str, QueueTraffic] = Field(default_factory=dict)
    agents: AgentBehaviour = Field(default_factory=AgentBehaviour)
    shifts: list[Shift] = Field(default_factory=list, description="None: everybody all day.")
    breaks: list[Break] = Field(default_factory=list)
    pauses: list[RandomPause] = Field(default_factory=list)

    def day_starts(self, tz: ZoneInfo) -> list[float]:
        # Days are calendar days: a DST change makes one 23 or 25 hours long.
        return [
            datetime.combine(self.date + timedelta(days=d), time(0), tzinfo=tz).timestamp()
            for d in range(self.days + 1)
        ]

    def handle_of(self, queue: str) -> Dist:
        q = self.queues.get(queue)
        return q.handle if q is not None and q.handle is not None else self.defaults.handle

    def patience_of(self, queue: str) -> Dist:
        q = self.queues.get(queue)
        return q.patience if q is not None and q.patience is not None else self.defaults.patience

    def check_against(self, queues: Mapping[str, object]) -> None:
        unknown = sorted(set(self.queues) - set(queues))
        if unknown:
            raise TrafficError(f"traffic for unknown queue(s): {', '.join(unknown)}")


class TrafficError(ValueError):
    pass


def parse_traffic(data: Any, source: str = "<traffic>") -> Traffic:
    try:
        return Traffic.model_validate(data or {})
    except ValidationError as e:
        lines = [
            f"{source}: {'.'.join(str(p) for p in err['loc']) or '(top)'}: {err['msg']}" for err in e.errors()
        ]
        raise TrafficError("\n".join(lines)) from None


def load_traffic(path: str | Path) -> Traffic:
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except OSError as e:
        raise TrafficError(f"{p}: cannot read: {e.strerror}") from None
    except yaml.YAMLError as e:
        raise TrafficError(f"{p}: not valid YAML: {e}") from None
    return parse_traffic(data, str(p))
