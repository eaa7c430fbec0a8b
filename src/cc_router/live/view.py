"""`LiveView`: what supervisors watch, kept up to date from the router's commands.

Attach once with `LiveView.attach(service)` (idempotent: the view lives in
`service.extras["live"]`, so HTTP, MQTT and the terminal share one). Its sink costs O(1)
per command (O(queues the agent serves) for an agent state change); anything that
scales with the number of agents or waiting interactions is computed when read.

Reads return plain JSON-ready dicts (UTF-8 names untouched):

- `queues()` / `queue(name)`: name, channel, priority, service_level_s, waiting,
  longest_wait_s, oldest_since (epoch s, to tick client-side), agents {state: n},
  logged_in, today / interval / total counters (see `QueueCounters.as_dict`).
- `channels()`: per channel, waiting and agents {state: n} (agents whose profile has
  capacity on that channel).
- `agents()` / `agent(id)`: id, name, pool, state, reason, state_since,
  time_in_state_s, interactions [{id, queue, channel, stage}], skills, queues.
- `waiting(limit)`: id, queue, channel, position, wait_s, step, priority, caller.
- `snapshot()`: all of the above plus version, now, centre name, thresholds.
- `update(since_version)`: queues, channels, waiting and only the agents changed since.

`version` grows by one for every command batch that changed something; `updates()` is an
async iterator of versions, coalesced to at most `max_updates_per_s` per subscriber.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from cc_router.core import commands as cmd
from cc_router.core import events as ev
from cc_router.core.pools import Bucket
from cc_router.core.records import AgentState, Stage
from cc_router.core.spec import Channel
from cc_router.live.stats import ABANDONED, INTERVAL_S, QueueCounters
from cc_router.store.reports import ANSWERED

if TYPE_CHECKING:
    from cc_router.service import Service

EXTRAS_KEY = "live"
ENTRY_REASONS = frozenset({"arrived", "moved", "overflowed", "transferred"})
"""InteractionQueued reasons that mean "entered this queue" (not returned/escalated/rebuilt)."""
STATES = tuple(s.value for s in AgentState)
DEFAULT_WAITING_LIMIT = 500


class LiveView:
    def __init__(self, service: Service, max_updates_per_s: float = 4.0) -> None:
        self._service = service
        self.max_updates_per_s = max_updates_per_s
        self.version = 0
        self._today: dict[str, QueueCounters] = {}
        self._interval: dict[str, QueueCounters] = {}
        self._total: dict[str, QueueCounters] = {}
        self._day = (0.0, 0.0)
        self._interval_start = 0.0
        self._visits: dict[str, str] = {}
        """interaction id -> queue it was counted as offered to (until it finishes there)."""
        self._agent_state: dict[str, str] = {}
        self._agent_queues: dict[str, tuple[str, ...]] = {}
        self._agent_channels: dict[str, tuple[str, ...]] = {}
        self._queue_states: dict[str, Counter[str]] = {}
        self._channel_states: dict[str, Counter[str]] = {}
        self._agent_changes: dict[str, int] = {}
        """agent id -> version of its last change, in version order (re-inserted on change)."""
        self._full_version = 0
        self._rebuild_pending = False
        self._skills_pending: set[str] = set()
        self._changed = asyncio.Event()
        self._cache: tuple[tuple[int, int], float, dict[str, Any]] | None = None
        self._rebuild()

    # ------------------------------------------------------------------ attaching

    @classmethod
    def attach(cls, service: Service, max_updates_per_s: float = 4.0) -> LiveView:
        """The service's view, created and hooked in as listener + sink the first time."""
        existing = service.extras.get(EXTRAS_KEY)
        if isinstance(existing, LiveView):
            return existing
        view = cls(service, max_updates_per_s)
        service.listeners.append(view.on_event)
        service.sinks.append(view.on_commands)
        service.extras[EXTRAS_KEY] = view
        return view

    def now(self) -> float:
        return self._service.clock()

    # ------------------------------------------------------------------ listener and sink

    def on_event(self, event: ev.Event, now: float) -> None:
        # Config changes rebuild the router's pools: membership is recounted after handle.
        if isinstance(event, ev.QueueChanged | ev.CentreReplaced):
            self._rebuild_pending = True
        elif isinstance(event, ev.AgentSkillsChanged):
            self._skills_pending.add(event.agent_id)

    def on_commands(self, commands: Sequence[cmd.Command], now: float) -> None:
        if not commands and not self._rebuild_pending and not self._skills_pending:
            return
        self._roll(now)
        version = self.version + 1
        if self._rebuild_pending:
            self._rebuild()
            self._full_version = version
        elif self._skills_pending:
            for aid in self._skills_pending:
                self._place_agent(aid)
                self._touch(aid, version)
        self._skills_pending.clear()
        for c in commands:
            if isinstance(c, cmd.AgentStateChanged):
                self._set_state(c.agent_id, c.state)
                self._touch(c.agent_id, version)
            elif isinstance(c, cmd.InteractionQueued):
                if c.reason in ENTRY_REASONS:
                    self._visits[c.interaction_id] = c.queue
                    self._count(c.queue, "offered", 0.0)
            elif isinstance(c, cmd.InteractionConnected):
                self._count(c.queue, "answered", c.wait_s)
                self._touch(c.agent_id, version)
            elif isinstance(c, cmd.InteractionFinished):
                if self._visits.pop(c.interaction_id, None) != c.queue:
                    # Left at the door (max length, empty) without ever being queued.
                    self._count(c.queue, "offered", 0.0)
                if c.outcome in ABANDONED:
                    self._count(c.queue, "abandoned", c.wait_s)
                elif c.outcome not in ANSWERED:
                    self._count(c.queue, "exit", c.wait_s)
                if c.agent_id is not None:
                    self._touch(c.agent_id, version)
            elif isinstance(c, cmd.Offer | cmd.CancelOffer):
                self._touch(c.agent_id, version)
        self.version = version
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    # ------------------------------------------------------------------ counters

    def _count(self, queue: str, what: str, wait_s: float) -> None:
        q = self._service.router.queues.get(queue)
        sl = q.spec.service_level_s if q is not None else 20.0
        for period in (self._today, self._interval, self._total):
            c = period.get(queue)
            if c is None:
                c = period[queue] = QueueCounters()
            if what == "offered":
                c.offered += 1
            elif what == "answered":
                c.answered += 1
                c.wait_answered_s += wait_s
                if wait_s > c.max_wait_answered_s:
                    c.max_wait_answered_s = wait_s
                if wait_s <= sl:
                    c.answered_within_sl += 1
            elif what == "abandoned":
                c.abandoned += 1
                if wait_s > sl:
                    c.abandoned_after_sl += 1
            else:
                c.exits += 1

    def _roll(self, now: float) -> None:
        """Start new counters when `now` enters a new local day or 15-minute interval."""
        if now >= self._interval_start + INTERVAL_S:
            self._interval = {}
            self._interval_start = now - now % INTERVAL_S
        start, end = self._day
        if now >= end:
            tz = self._service.config.centre.tz
            local = datetime.fromtimestamp(now, tz)
            midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
            nxt = (midnight + timedelta(days=1)).replace(tzinfo=None).replace(tzinfo=tz)
            if start:
                self._today = {}
            self._day = (midnight.timestamp(), nxt.timestamp())

    # ------------------------------------------------------------------ agents by state

    def _rebuild(self) -> None:
        router = self._service.router
        queues_of: dict[str, list[str]] = {}
        for name, q in router.queues.items():
            if q.buckets:
                for aid in cast(Bucket, q.buckets[-1]).pool.members:
                    queues_of.setdefault(aid, []).append(name)
        self._agent_queues = {aid: tuple(qs) for aid, qs in queues_of.items()}
        self._agent_channels = {
            aid: tuple(str(ch) for ch, cap in a.profile.capacity.items() if cap > 0)
            for aid, a in router.agents.items()
        }
        self._queue_states = {name: Counter() for name in router.queues}
        self._channel_states = {str(ch): Counter() for ch in Channel}
        self._agent_state = {}
        for aid, a in router.agents.items():
            self._set_state(aid, str(a.state))

    def _place_agent(self, aid: str) -> None:
        """Recount one agent whose skills (so queues) changed."""
        router = self._service.router
        state = self._agent_state.pop(aid, None)
        if state is not None:
            for q in self._agent_queues.get(aid, ()):
                self._queue_states.setdefault(q, Counter())[state] -= 1
            for ch in self._agent_channels.get(aid, ()):
                self._channel_states.setdefault(ch, Counter())[state] -= 1
        self._agent_queues[aid] = tuple(
            name
            for name, q in router.queues.items()
            if q.buckets and aid in cast(Bucket, q.buckets[-1]).pool.members
        )
        a = router.agents.get(aid)
        if a is not None:
            self._set_state(aid, str(a.state))

    def _set_state(self, aid: str, state: str) -> None:
        old = self._agent_state.get(aid)
        if old == state:
            return
        self._agent_state[aid] = state
        qs = self._queue_states
        for q in self._agent_queues.get(aid, ()):
            counts = qs.get(q)
            if counts is None:
                counts = qs[q] = Counter()
            if old is not None:
                counts[old] -= 1
            counts[state] += 1
        cs = self._channel_states
        for ch in self._agent_channels.get(aid, ()):
            counts = cs.get(ch)
            if counts is None:
                counts = cs[ch] = Counter()
            if old is not None:
                counts[old] -= 1
            counts[state] += 1

    def _touch(self, aid: str, version: int) -> None:
        changes = self._agent_changes
        changes.pop(aid, None)
        changes[aid] = version

    # ------------------------------------------------------------------ reads

    def _oldest_waiting(self) -> dict[str, float]:
        oldest: dict[str, float] = {}
        for it in self._service.router.interactions.values():
            if it.stage is Stage.WAITING:
                q = it.queue.name
                t = oldest.get(q)
                if t is None or it.queue_joined_at < t:
                    oldest[q] = it.queue_joined_at
        return oldest

    def queues(self) -> list[dict[str, Any]]:
        now = self.now()
        self._roll(now)
        oldest = self._oldest_waiting()
        return [self._queue_dict(name, now, oldest.get(name)) for name in self._service.router.queues]

    def queue(self, name: str) -> dict[str, Any] | None:
        if name not in self._service.router.queues:
            return None
        now = self.now()
        self._roll(now)
        return self._queue_dict(name, now, self._oldest_waiting().get(name))

    def _queue_dict(self, name: str, now: float, oldest: float | None) -> dict[str, Any]:
        q = self._service.router.queues[name]
        spec = q.spec
        states = self._queue_states.get(name, Counter())
        agents = {s: states.get(s, 0) for s in STATES}
        return {
            "name": name,
            "channel": str(spec.channel),
            "priority": spec.priority,
            "strategy": str(spec.strategy),
            "service_level_s": spec.service_level_s,
            "waiting": q.waiting,
            "longest_wait_s": round(max(0.0, now - oldest), 1) if oldest is not None else 0.0,
            "oldest_since": oldest,
            "agents": agents,
            "logged_in": sum(n for s, n in agents.items() if s != "logged_out"),
            "today": self._today.get(name, QueueCounters()).as_dict(),
            "interval": {
                "start": self._interval_start,
                **self._interval.get(name, QueueCounters()).as_dict(),
            },
            "total": self._total.get(name, QueueCounters()).as_dict(),
        }

    def channels(self) -> list[dict[str, Any]]:
        waiting: Counter[str] = Counter()
        for q in self._service.router.queues.values():
            waiting[str(q.spec.channel)] += q.waiting
        out = []
        for ch in Channel:
            states = self._channel_states.get(str(ch), Counter())
            out.append(
                {
                    "channel": str(ch),
                    "waiting": waiting.get(str(ch), 0),
                    "agents": {s: states.get(s, 0) for s in STATES},
                }
            )
        return out

    def agents(self, include_logged_out: bool = True) -> list[dict[str, Any]]:
        now = self.now()
        return [
            self._agent_dict(aid, now)
            for aid, a in self._service.router.agents.items()
            if include_logged_out or a.state is not AgentState.LOGGED_OUT
        ]

    def agent(self, agent_id: str) -> dict[str, Any] | None:
        if agent_id not in self._service.router.agents:
            return None
        return self._agent_dict(agent_id, self.now())

    def _agent_dict(self, aid: str, now: float) -> dict[str, Any]:
        router = self._service.router
        a = router.agents[aid]
        work: list[dict[str, Any]] = []
        for stage, held in (("connected", a.connected), ("wrap_up", a.wrapping)):
            for iid, ch in held.items():
                it = router.interactions.get(iid)
                work.append(
                    {"id": iid, "queue": it.queue.name if it else None, "channel": str(ch), "stage": stage}
                )
        if a.offer is not None:
            it = router.interactions.get(a.offer.interaction_id)
            work.append(
                {
                    "id": a.offer.interaction_id,
                    "queue": it.queue.name if it else None,
                    "channel": str(a.offer.channel),
                    "stage": "offered",
                }
            )
        return {
            "id": aid,
            "name": a.spec.name,
            "pool": a.spec.pool,
            "profile": a.spec.profile,
            "state": str(a.state),
            "reason": a.state_reason,
            # Agents never seen since start have no meaningful "since".
            "state_since": a.state_since if a.state_since > 0 else None,
            "time_in_state_s": round(max(0.0, now - a.state_since), 1) if a.state_since > 0 else None,
            "interactions": work,
            "skills": dict(a.spec.skills),
            "queues": list(self._agent_queues.get(aid, ())),
        }

    def waiting(
        self, limit: int | None = DEFAULT_WAITING_LIMIT, queue: str | None = None
    ) -> list[dict[str, Any]]:
        """Waiting interactions in service order per queue (queues in config order)."""
        router = self._service.router
        now = self.now()
        by_queue: dict[str, list[tuple[tuple[float, ...], Any]]] = {}
        for it in router.interactions.values():
            if it.stage is not Stage.WAITING or it.bucket is None:
                continue
            if queue is not None and it.queue.name != queue:
                continue
            key = cast(Bucket, it.bucket).entry_key(it)
            by_queue.setdefault(it.queue.name, []).append((key, it))
        out: list[dict[str, Any]] = []
        # Ranking everything in one sort per queue gives `router.position` for all at once.
        for name in router.queues:
            entries = by_queue.get(name)
            if not entries:
                continue
            entries.sort(key=lambda e: e[0])
            for pos, (_, it) in enumerate(entries, start=1):
                out.append(
                    {
                        "id": it.id,
                        "queue": name,
                        "channel": str(it.channel),
                        "position": pos,
                        "wait_s": round(max(0.0, now - it.queue_joined_at), 1),
                        "since": it.queue_joined_at,
                        "step": it.step,
                        "priority": it.priority,
                        "caller": it.caller,
                    }
                )
        out.sort(key=lambda d: (d["position"], -d["wait_s"]))
        return out if limit is None else out[:limit]

    def totals(self) -> dict[str, QueueCounters]:
        """Counters since the service started, per queue (for monotonic metrics)."""
        return self._total

    def header(self) -> dict[str, Any]:
        config = self._service.config
        return {
            "version": self.version,
            "now": self.now(),
            "centre": config.centre.name,
            "timezone": config.centre.timezone,
            "thresholds": config.wallboard.thresholds.model_dump(),
        }

    def _shared(self, waiting_limit: int) -> dict[str, Any]:
        """Queues, channels and waiting for the current version, computed once for every
        stream subscriber (refreshed at least each second for the waits)."""
        now = self.now()
        key = (self.version, waiting_limit)
        cached = self._cache
        if cached is None or cached[0] != key or now - cached[1] >= 1.0:
            part = {
                "queues": self.queues(),
                "channels": self.channels(),
                "interactions": self.waiting(waiting_limit),
            }
            cached = self._cache = (key, now, part)
        return cached[2]

    def snapshot(self, waiting_limit: int = DEFAULT_WAITING_LIMIT) -> dict[str, Any]:
        return {
            **self.header(),
            "full": True,
            **self._shared(waiting_limit),
            "agents": self.agents(),
        }

    def update(self, since: int, waiting_limit: int = DEFAULT_WAITING_LIMIT) -> dict[str, Any]:
        """Like `snapshot`, but agents only if changed after version `since`."""
        if since < self._full_version:
            return self.snapshot(waiting_limit)
        now = self.now()
        agents = self._service.router.agents
        changed: list[dict[str, Any]] = []
        for aid, v in reversed(self._agent_changes.items()):
            if v <= since:
                break
            if aid in agents:
                changed.append(self._agent_dict(aid, now))
        return {**self.header(), "full": False, **self._shared(waiting_limit), "agents": changed}

    async def updates(self, since: int | None = None, max_per_s: float | None = None) -> AsyncIterator[int]:
        """Yield the version after each change, at most `max_per_s` times a second."""
        last = self.version if since is None else since
        gap = 1.0 / (max_per_s or self.max_updates_per_s)
        while True:
            if self.version == last:
                await self._changed.wait()
            last = self.version
            yield last
            # Changes during the pause are merged into the next yield.
            await asyncio.sleep(gap)

    async def wait_change(self, since: int, timeout: float | None = None) -> int:
        """Return once `version` > `since` (or after `timeout`), with the current version."""
        if self.version == since:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout)
        return self.version
