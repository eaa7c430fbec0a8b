"""An agent's own figures for today: handled, average handle time, time per state."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from cc_router.core.vocabulary import AgentState


@dataclass
class AgentDay:
    day: str = ""
    handled: int = 0
    handle_s: float = 0.0
    state_s: dict[str, float] = field(default_factory=dict)
    by_disposition: dict[str, int] = field(default_factory=dict)

    def public(self, state: str, since: float, now: float) -> dict[str, Any]:
        states = dict(self.state_s)
        if since > 0:
            states[state] = states.get(state, 0.0) + max(0.0, now - since)
        return {
            "day": self.day,
            "handled": self.handled,
            "avg_handle_s": round(self.handle_s / self.handled, 1) if self.handled else None,
            "state_s": {k: round(v, 1) for k, v in states.items()},
            "dispositions": dict(self.by_disposition),
        }


class DayBook:
    """Per-agent figures that start again at local midnight in the centre's time zone."""

    def __init__(self, timezone: str) -> None:
        self.tz = ZoneInfo(timezone)
        self.days: dict[str, AgentDay] = {}
        self._window = (0.0, 0.0, "")
        """(local midnight, next midnight, day) last looked up: one zone lookup a day."""

    def _day_of(self, at: float) -> tuple[float, str]:
        start, end, day = self._window
        if not start <= at < end:
            local = datetime.fromtimestamp(at, self.tz)
            midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
            # Aware arithmetic is wall-clock: the next local midnight, also across a DST change.
            following = midnight + timedelta(days=1)
            start, end, day = midnight.timestamp(), following.timestamp(), local.date().isoformat()
            self._window = (start, end, day)
        return start, day

    def _today(self, agent_id: str, at: float) -> AgentDay:
        day = self._day_of(at)[1]
        d = self.days.get(agent_id)
        if d is None or d.day != day:
            d = self.days[agent_id] = AgentDay(day)
        return d

    def state_ended(self, agent_id: str, state: str, since: float, at: float) -> None:
        if since <= 0 or state == AgentState.LOGGED_OUT:
            return
        d = self._today(agent_id, at)
        # A state that began yesterday counts from midnight only.
        start = max(since, self._day_of(at)[0])
        d.state_s[state] = d.state_s.get(state, 0.0) + max(0.0, at - start)

    def handled(self, agent_id: str, handle_s: float, at: float) -> None:
        d = self._today(agent_id, at)
        d.handled += 1
        d.handle_s += handle_s

    def disposition(self, agent_id: str, code: str, at: float) -> None:
        d = self._today(agent_id, at)
        d.by_disposition[code] = d.by_disposition.get(code, 0) + 1

    def public(self, agent_id: str, state: str, since: float, now: float) -> dict[str, Any]:
        return self._today(agent_id, now).public(state, since, now)
