"""Agent sessions between the core and the store: recorded as they change, restored at start.

The recorder reads the router's records after each event (a listener notes what the event
touched, a sink looks once the core has decided), so whatever changed an agent's presence
(HTTP, MQTT, a phone feature code, a pause running out, missed offers) is recorded the same
way. Restoring turns the stored rows back into core events with their original times.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from cc_router.core import Router
from cc_router.core import commands as cmd
from cc_router.core import events as ev
from cc_router.core.records import Presence
from cc_router.core.spec import CentreSpec, QueueSpec, StepSpec
from cc_router.store.sessions import AgentSession, QueueOverride, SessionStore

if TYPE_CHECKING:
    from cc_router.service import Handled

_AGENT_EVENTS = (
    ev.AgentLoggedIn,
    ev.AgentLoggedOut,
    ev.AgentPaused,
    ev.AgentUnpaused,
    ev.AgentSkillsChanged,
    ev.AgentSessionRestored,
)


def _steps(q: QueueSpec) -> tuple[tuple[float, str, int], ...]:
    return tuple((s.after_s, s.requirement, s.priority_boost) for s in q.steps)


class SessionRecorder:
    """`observe` goes in `service.observers`: the sessions follow the routing in batches, off
    its path; `Service.stored()` tells the observers first, so a change a caller awaits is
    in the batch it waits for. (`listen` before and `sink` after the router's handle, for
    one event at a time.)"""

    def __init__(self, router: Router, store: SessionStore) -> None:
        self.router = router
        self.store = store
        self._baseline(router.centre)
        self._last: dict[str, AgentSession] = {}
        self._agents: set[str] = set()
        self._queues: set[str] = set()
        self._max_s: dict[str, float | None] = {}

    def _baseline(self, centre: CentreSpec) -> None:
        self._config_skills = {a.id: dict(a.skills) for a in centre.agents}

    def seed(self, sessions: Iterable[AgentSession]) -> None:
        """What the store holds already (rows equal to these are not written again)."""
        for s in sessions:
            self._last[s.agent_id] = s

    def observe(self, batch: Sequence[Handled]) -> None:
        for event, commands, at, _ in batch:
            self.listen(event, at)
            self.sink(commands, at)

    def listen(self, event: ev.Event, now: float) -> None:
        if isinstance(event, _AGENT_EVENTS):
            self._agents.add(event.agent_id)
            if isinstance(event, ev.AgentPaused | ev.AgentSessionRestored):
                self._max_s[event.agent_id] = event.max_s
        elif isinstance(event, ev.QueueChanged):
            self._queues.add(event.queue.name)
        elif isinstance(event, ev.CentreReplaced):
            self._pending_reload = event.centre

    _pending_reload: CentreSpec | None = None

    def sink(self, commands: Sequence[cmd.Command], now: float) -> None:
        for c in commands:
            if isinstance(c, cmd.AgentStateChanged):
                self._agents.add(c.agent_id)
        reload = self._pending_reload
        if reload is not None:
            self._pending_reload = None
            if self.router.centre is reload:  # accepted, not rejected
                self._baseline(reload)
                self._last = {k: replace(v, skills=None) for k, v in self._last.items()}
                self.store.clear_live_changes()
        if self._agents:
            for aid in self._agents:
                self._record_agent(aid, now)
            self._agents.clear()
        if self._queues:
            for name in self._queues:
                q = self.router.centre.queue(name)
                if q is not None:
                    self.store.put(QueueOverride(name, q.priority, _steps(q)))
            self._queues.clear()

    def _record_agent(self, aid: str, now: float) -> None:
        a = self.router.agents.get(aid)
        if a is None:
            return
        last = self._last.get(aid)
        presence = str(a.presence)
        reason = a.pause_reason
        if a.presence is Presence.READY:
            since = a.idle_since
            max_s = None
        elif last is not None and last.presence == presence and last.reason == reason:
            since, max_s = last.since, last.pause_max_s
        else:
            since = now
            max_s = self._max_s.get(aid) if a.presence is Presence.PAUSED else None
        self._max_s.pop(aid, None)
        skills = dict(a.spec.skills)
        live_skills = None if skills == self._config_skills.get(aid) else skills
        if last is None and a.presence is Presence.LOGGED_OUT and live_skills is None:
            return  # what every agent is at start: nothing to keep
        row = AgentSession(aid, presence, reason, since, max_s, live_skills)
        if row != last:
            self._last[aid] = row
            self.store.put(row)


def restore_events(
    centre: CentreSpec, sessions: Iterable[AgentSession], queues: Iterable[QueueOverride]
) -> list[ev.Event]:
    """Core events that put a freshly built router back where the stored sessions were.

    Queues first, then skills (they decide the pools), then presence with its original
    time; rows for agents or queues no longer in the config are skipped."""
    out: list[ev.Event] = []
    for q in queues:
        spec = centre.queue(q.queue)
        if spec is not None:
            steps = tuple(StepSpec(a, r, b) for a, r, b in q.steps)
            if (spec.priority, spec.steps) != (q.priority, steps):
                out.append(ev.QueueChanged(replace(spec, priority=q.priority, steps=steps)))
    known = {a.id for a in centre.agents}
    present = [s for s in sessions if s.agent_id in known]
    out.extend(ev.AgentSkillsChanged(s.agent_id, s.skills) for s in present if s.skills is not None)
    for s in sorted(present, key=lambda s: s.since):
        if s.presence in (Presence.READY, Presence.PAUSED):
            out.append(
                ev.AgentSessionRestored(
                    s.agent_id, s.presence == Presence.PAUSED, s.since, s.reason, s.pause_max_s
                )
            )
    return out


__all__ = ["SessionRecorder", "restore_events"]
