"""`LiveView`: what supervisors watch, kept up to date from the router's commands.

Attach once with `LiveView.attach(service)` (idempotent: the view lives in
`service.parts.live`, so HTTP, MQTT and the terminal share one). Its sink costs O(1)
per command (O(queues the agent serves) for an agent state change); anything that
scales with the number of agents or waiting interactions is computed when read, except
the agent list order, which is kept (agents leave and join a state group in O(1)) so a
page of the list costs O(page), not O(agents).

Reads return plain JSON-ready dicts (UTF-8 names untouched):

- `queues()` / `queue(name)`: name, channel, priority, service_level_s, waiting,
  longest_wait_s, oldest_since (epoch s, to tick client-side), ewt_new_s (expected wait
  of a caller joining now), ewt_longest_s (longest expected wait of those waiting), agents {state: n},
  logged_in, today / interval / total counters (see `QueueCounters.as_dict`).
- `channels()`: per channel, waiting, longest_wait_s / oldest_since, agents {state: n}
  (agents whose profile has capacity on that channel), logged_in, slots {used, total}
  (load held / capacity of logged-in agents on that channel) and `today`: counters summed
  over the channel's queues.
- `agents()` / `agent(id)`: id, name, pool, state, reason, state_since,
  time_in_state_s, interactions [{id, queue, channel, stage}], load {channel: {used,
  capacity}}, skills, queues.
- `agent_page(filter, limit, offset)`: the agents an `AgentFilter` selects in `ATTENTION`
  order (paused and wrap-up first, longest in state first), with total and counts by state.
- `waiting(limit)`: id, queue, channel, position, wait_s, step, priority, caller, ewt_s
  (expected wait from now, `cc_router.core.estimate`; null when unknown).
- `stream_snapshot(filter, limit)` / `stream_update(since, shown, filter, limit)`: what the
  SSE stream sends: queues (today's counters only), channels, waiting, agent counts, one
  page of agents, then only the page's agents that changed or came into it.
- `snapshot()` / `update(since_version)`: the same with every agent (20,000 agents are
  megabytes: for tools that want them all).

`version` grows by one for every command batch that changed something; `updates()` is an
async iterator of versions, coalesced to at most `max_updates_per_s` per subscriber.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from cc_router.core import commands as cmd
from cc_router.core import events as ev
from cc_router.core.spec import Channel
from cc_router.core.vocabulary import ABANDONED_OUTCOMES, ANSWERED_OUTCOMES, ENTRY_REASONS, AgentState, Stage
from cc_router.live import expected_wait
from cc_router.live.agent_filter import ATTENTION, AgentFilter
from cc_router.live.slots import SlotBook, agent_load
from cc_router.live.stats import INTERVAL_S, QueueCounters

if TYPE_CHECKING:
    from cc_router.service import Handled, Service

STATES = tuple(s.value for s in AgentState)
DEFAULT_WAITING_LIMIT = 500
STREAM_WAITING_LIMIT = 100
"""Waiting rows the stream sends each update (the wallboard panel shows that many)."""
DEFAULT_PAGE = 200
"""Agents a wallboard shows (and the stream sends) unless it asks for another number."""
MAX_PAGE = 2000


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
        self._pool_states: dict[str, Counter[str]] = {}
        self._state_counts: Counter[str] = Counter()
        self._by_state: dict[str, dict[str, None]] = {}
        """state -> agent ids in the order they entered it (oldest `state_since` first)."""
        self._agent_group: dict[str, str] = {}
        self.slots = SlotBook()
        self._agent_changes: dict[str, int] = {}
        """agent id -> version of its last change, in version order (re-inserted on change)."""
        self._full_version = 0
        self._rebuild_pending = False
        self._skills_pending: set[str] = set()
        self._changed = asyncio.Event()
        self._cache: tuple[tuple[int, int], float, dict[str, Any]] | None = None
        self._ewt = expected_wait.attach(service)
        self._rebuild()

    # ------------------------------------------------------------------ attaching

    @classmethod
    def attach(cls, service: Service, max_updates_per_s: float = 4.0) -> LiveView:
        """The service's view, created and hooked in as listener + sink the first time."""
        existing = service.parts.live
        if existing is not None:
            return existing
        view = cls(service, max_updates_per_s)
        service.observers.append(view.observe)
        service.parts.live = view
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

    def observe(self, batch: Sequence[Handled]) -> None:
        """The service's observer: every handled event of a batch, one new version for all."""
        changed = False
        version = self.version + 1
        for event, commands, at, _ in batch:
            self.on_event(event, at)
            changed = self._apply(commands, at, version) or changed
        if changed:
            self._publish(version)

    def _publish(self, version: int) -> None:
        self.version = version
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def _apply(self, commands: Sequence[cmd.Command], now: float, version: int) -> bool:
        """Follow one event's commands; False if there was nothing to follow."""
        if not commands and not self._rebuild_pending and not self._skills_pending:
            return False
        self._roll(now)
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
                self._reorder(c.agent_id, c.state)
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
                if c.outcome in ABANDONED_OUTCOMES:
                    self._count(c.queue, "abandoned", c.wait_s)
                elif c.outcome not in ANSWERED_OUTCOMES:
                    self._count(c.queue, "exit", c.wait_s)
                if c.agent_id is not None:
                    self._touch(c.agent_id, version)
            elif isinstance(c, cmd.Offer | cmd.CancelOffer | cmd.WrapUpEnded):
                self._touch(c.agent_id, version)
        return True

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
        for name in router.queues:
            for aid in router.agents_of(name):
                queues_of.setdefault(aid, []).append(name)
        self._agent_queues = {aid: tuple(qs) for aid, qs in queues_of.items()}
        self._agent_channels = {
            aid: tuple(str(ch) for ch, cap in a.profile.capacity.items() if cap > 0)
            for aid, a in router.agents.items()
        }
        self._queue_states = {name: Counter() for name in router.queues}
        self._channel_states = {str(ch): Counter() for ch in Channel}
        self._pool_states = {a.spec.pool: Counter() for a in router.agents.values()}
        self._state_counts = Counter()
        self._agent_state = {}
        for aid, a in router.agents.items():
            self._set_state(aid, str(a.state))
        groups: dict[str, list[tuple[float, str]]] = {s: [] for s in ATTENTION}
        for aid, a in router.agents.items():
            groups.setdefault(str(a.state), []).append((a.state_since, aid))
        self._by_state = {s: dict.fromkeys(aid for _, aid in sorted(g)) for s, g in groups.items()}
        self._agent_group = {aid: str(a.state) for aid, a in router.agents.items()}
        self.slots.clear()
        for aid, a in router.agents.items():
            self.slots.update(aid, a)

    def _place_agent(self, aid: str) -> None:
        """Recount one agent whose skills (so queues) changed."""
        router = self._service.router
        a = router.agents.get(aid)
        state = self._agent_state.pop(aid, None)
        if state is not None:
            for q in self._agent_queues.get(aid, ()):
                self._queue_states.setdefault(q, Counter())[state] -= 1
            for ch in self._agent_channels.get(aid, ()):
                self._channel_states.setdefault(ch, Counter())[state] -= 1
            self._state_counts[state] -= 1
            if a is not None:
                self._pool_states.setdefault(a.spec.pool, Counter())[state] -= 1
        self._agent_queues[aid] = router.queues_of(aid)
        if a is not None:
            self._set_state(aid, str(a.state))

    def _set_state(self, aid: str, state: str) -> None:
        old = self._agent_state.get(aid)
        if old == state:
            return
        self._agent_state[aid] = state
        a = self._service.router.agents.get(aid)
        # Runs on every agent state change: no throwaway Counter per lookup.
        for kept, keys in (
            (self._queue_states, self._agent_queues.get(aid, ())),
            (self._channel_states, self._agent_channels.get(aid, ())),
            (self._pool_states, (a.spec.pool,) if a is not None else ()),
        ):
            for key in keys:
                counts = kept.get(key)
                if counts is None:
                    counts = kept[key] = Counter()
                if old is not None:
                    counts[old] -= 1
                counts[state] += 1
        if old is not None:
            self._state_counts[old] -= 1
        self._state_counts[state] += 1

    def _reorder(self, aid: str, state: str) -> None:
        """The agent entered `state` (or its reason changed) just now: last of its group."""
        old = self._agent_group.get(aid)
        if old is not None:
            self._by_state.get(old, {}).pop(aid, None)
        self._by_state.setdefault(state, {})[aid] = None
        self._agent_group[aid] = state

    def _touch(self, aid: str, version: int) -> None:
        changes = self._agent_changes
        changes.pop(aid, None)
        changes[aid] = version
        self.slots.update(aid, self._service.router.agents.get(aid))

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
            "logged_in": sum(n for s, n in agents.items() if s != AgentState.LOGGED_OUT),
            # Expected waits: of a caller joining now, and of the one waiting longest ahead.
            "ewt_new_s": expected_wait.rounded(self._ewt.expected_wait_new(name, now)),
            "ewt_longest_s": expected_wait.rounded(self._ewt.longest(name, now)),
            "today": self._today.get(name, QueueCounters()).as_dict(),
            "interval": {
                "start": self._interval_start,
                **self._interval.get(name, QueueCounters()).as_dict(),
            },
            "total": self._total.get(name, QueueCounters()).as_dict(),
        }

    def channels(self, oldest: dict[str, float] | None = None) -> list[dict[str, Any]]:
        """One summary per channel (all five, in `Channel` order)."""
        now = self.now()
        self._roll(now)
        if oldest is None:
            oldest = self._oldest_waiting()
        waiting: Counter[str] = Counter()
        oldest_of: dict[str, float] = {}
        today: dict[str, QueueCounters] = {}
        for name, q in self._service.router.queues.items():
            ch = str(q.spec.channel)
            waiting[ch] += q.waiting
            t = oldest.get(name)
            if t is not None and (ch not in oldest_of or t < oldest_of[ch]):
                oldest_of[ch] = t
            c = self._today.get(name)
            if c is not None:
                _add(today.setdefault(ch, QueueCounters()), c)
        out = []
        for channel in Channel:
            ch = str(channel)
            states = self._channel_states.get(ch, Counter())
            agents = {s: states.get(s, 0) for s in STATES}
            since = oldest_of.get(ch)
            out.append(
                {
                    "channel": ch,
                    "waiting": waiting.get(ch, 0),
                    "longest_wait_s": round(max(0.0, now - since), 1) if since is not None else 0.0,
                    "oldest_since": since,
                    "agents": agents,
                    "logged_in": sum(n for s, n in agents.items() if s != AgentState.LOGGED_OUT),
                    "slots": self.slots.of(channel),
                    "today": today.get(ch, QueueCounters()).as_dict(),
                }
            )
        return out

    def pools(self) -> list[str]:
        return sorted(self._pool_states)

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

    def _agent_dict(self, aid: str, now: float, full: bool = True) -> dict[str, Any]:
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
        out: dict[str, Any] = {
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
            "load": agent_load(a),
        }
        if full:
            # Skills are most of an agent's bytes: the wallboard stream leaves them out.
            out["skills"] = dict(a.spec.skills)
            out["queues"] = list(self._agent_queues.get(aid, ()))
        return out

    # ------------------------------------------------------------------ agent lists

    def _matches(self, aid: str, f: AgentFilter) -> bool:
        if f.queue is not None and f.queue not in self._agent_queues.get(aid, ()):
            return False
        if f.channel is not None and f.channel not in self._agent_channels.get(aid, ()):
            return False
        if f.pool is not None or f.search:
            spec = self._service.router.agents[aid].spec
            if f.pool is not None and spec.pool != f.pool:
                return False
            if f.search and f.search not in aid.lower() and f.search not in spec.name.lower():
                return False
        return True

    def _counts_for(self, f: AgentFilter) -> Counter[str] | None:
        """Agents by state for the filter's queue / pool / channel, if kept; else None."""
        if f.search or f.dimensions > 1:
            return None
        if f.queue is not None:
            return self._queue_states.get(f.queue, Counter())
        if f.pool is not None:
            return self._pool_states.get(f.pool, Counter())
        if f.channel is not None:
            return self._channel_states.get(f.channel, Counter())
        return self._state_counts

    def _page_ids(
        self, f: AgentFilter, limit: int | None, offset: int = 0
    ) -> tuple[list[str], dict[str, int]]:
        """(ids of the page, counts by state of every agent the filter selects)."""
        kept = self._counts_for(f)
        counts: Counter[str] = Counter()
        ids: list[str] = []
        end = None if limit is None else offset + limit
        seen = 0
        for state in ATTENTION:
            if not f.shows_state(state):
                continue
            if kept is not None and end is not None and seen >= end:
                break  # the counts are kept: no need to walk the rest
            group = self._by_state.get(state, {})
            if not f.dimensions:
                # Unfiltered: slice the group instead of testing each agent.
                n = len(group)
                if end is None or seen + n > offset:
                    lo, hi = max(0, offset - seen), n if end is None else min(n, end - seen)
                    ids.extend(itertools.islice(group, lo, hi))
                seen += n
                counts[state] = n
                continue
            for aid in group:
                if not self._matches(aid, f):
                    continue
                if offset <= seen and (end is None or seen < end):
                    ids.append(aid)
                seen += 1
                counts[state] += 1
                if kept is not None and end is not None and seen >= end:
                    break
        shown = {s: (kept.get(s, 0) if kept is not None else counts.get(s, 0)) for s in ATTENTION}
        return ids, {s: n for s, n in shown.items() if s in STATES}

    def agent_page(
        self,
        f: AgentFilter | None = None,
        limit: int | None = DEFAULT_PAGE,
        offset: int = 0,
        full: bool = True,
    ) -> dict[str, Any]:
        """`{total, counts, offset, limit, filter, agents}`: counts by state of every agent the
        filter selects (the state filter aside), total of those in the selected states."""
        f = f or AgentFilter()
        ids, counts = self._page_ids(f, limit, offset)
        now = self.now()
        return {
            "total": sum(n for s, n in counts.items() if f.shows_state(s)),
            "counts": counts,
            "offset": offset,
            "limit": limit,
            "filter": f.as_dict(),
            "agents": [self._agent_dict(aid, now, full) for aid in ids],
        }

    # ------------------------------------------------------------------ waiting

    def waiting(
        self, limit: int | None = DEFAULT_WAITING_LIMIT, queue: str | None = None
    ) -> list[dict[str, Any]]:
        """Waiting interactions in service order per queue (queues in config order)."""
        router = self._service.router
        now = self.now()
        ranked: list[tuple[int, float, int, str, Any]] = []
        for qi, name in enumerate(router.queues):
            if queue is not None and name != queue:
                continue
            # Places in serving order are what `router.position` says, for all at once.
            for pos, it in enumerate(router.waiting_in(name), start=1):
                ranked.append((pos, it.queue_joined_at, qi, name, it))
        # Dicts only for the rows returned: a busy floor has thousands waiting.
        rows = sorted(ranked, key=_rank) if limit is None else heapq.nsmallest(limit, ranked, key=_rank)
        return [
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
                "ewt_s": expected_wait.rounded(self._ewt.expected_wait(it.id, now)),
            }
            for pos, _, _, name, it in rows
        ]

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

    # ------------------------------------------------------------------ stream payloads

    def _shared(self, waiting_limit: int) -> dict[str, Any]:
        """Queues, channels, waiting and agent counts, computed once for every stream
        subscriber: at most `max_updates_per_s` times a second however many subscribers
        and changes (on a 20,000-seat floor this costs tens of ms), and at least each
        second for the waits. `figures_version` says which version they show."""
        now = self.now()
        cached = self._cache
        age = now - cached[1] if cached is not None else 0.0
        if (
            cached is None
            or cached[0][1] != waiting_limit
            or age >= 1.0
            or age < 0.0
            or (cached[0][0] != self.version and age >= 1.0 / self.max_updates_per_s)
        ):
            key = (self.version, waiting_limit)
            self._roll(now)
            oldest = self._oldest_waiting()
            part = {
                # Without the interval and since-start counters (in /api/queues): the
                # wallboard shows today's, and they are most of a queue's bytes.
                "queues": [
                    _today_only(self._queue_dict(n, now, oldest.get(n))) for n in self._service.router.queues
                ],
                "channels": self.channels(oldest),
                "interactions": self.waiting(waiting_limit),
                "agent_states": {s: self._state_counts.get(s, 0) for s in STATES},
                "pools": self.pools(),
                "figures_version": self.version,
            }
            cached = self._cache = (key, now, part)
        return cached[2]

    def stream_snapshot(
        self,
        f: AgentFilter | None = None,
        limit: int = DEFAULT_PAGE,
        waiting_limit: int = STREAM_WAITING_LIMIT,
    ) -> dict[str, Any]:
        """First stream message: shared parts and one page of agents (without skills)."""
        page = self.agent_page(f, limit, full=False)
        agents = page.pop("agents")
        page["ids"] = [a["id"] for a in agents]
        return {
            **self.header(),
            "full": True,
            **self._shared(waiting_limit),
            "agent_page": page,
            "agents": agents,
        }

    def stream_update(
        self,
        since: int,
        shown: Sequence[str],
        f: AgentFilter | None = None,
        limit: int = DEFAULT_PAGE,
        waiting_limit: int = STREAM_WAITING_LIMIT,
    ) -> dict[str, Any]:
        """Next stream message for a client showing agents `shown` as of version `since`:
        the page's ids in order, and full rows only for agents new to it or changed."""
        f = f or AgentFilter()
        ids, counts = self._page_ids(f, limit)
        now = self.now()
        if since < self._full_version:
            send = ids
        else:
            before = set(shown)
            changed = set()
            for aid, v in reversed(self._agent_changes.items()):
                if v <= since:
                    break
                changed.add(aid)
            send = [aid for aid in ids if aid not in before or aid in changed]
        page = {
            "total": sum(n for s, n in counts.items() if f.shows_state(s)),
            "counts": counts,
            "offset": 0,
            "limit": limit,
            "filter": f.as_dict(),
            "ids": ids,
        }
        return {
            **self.header(),
            "full": False,
            **self._shared(waiting_limit),
            "agent_page": page,
            "agents": [self._agent_dict(aid, now, full=False) for aid in send],
        }

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
                async with asyncio.timeout(timeout):
                    await self._changed.wait()
        return self.version


def _add(into: QueueCounters, c: QueueCounters) -> None:
    into.offered += c.offered
    into.answered += c.answered
    into.answered_within_sl += c.answered_within_sl
    into.abandoned += c.abandoned
    into.abandoned_after_sl += c.abandoned_after_sl
    into.exits += c.exits
    into.wait_answered_s += c.wait_answered_s
    into.max_wait_answered_s = max(into.max_wait_answered_s, c.max_wait_answered_s)


def _today_only(q: dict[str, Any]) -> dict[str, Any]:
    del q["interval"], q["total"]
    return q


def _rank(row: tuple[int, float, int, str, Any]) -> tuple[int, float, int]:
    """Position first, then the longest wait, then config order: as the wallboard lists."""
    return row[0], row[1], row[2]
