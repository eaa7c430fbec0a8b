"""A model of Asterisk's app_queue, driven by the same simulator as the real core.

This is a competitor's behaviour, written from app_queue's documented and observable
rules, not a copy of cc-router's logic. It answers `handle(event, now) -> [commands]`
with the same events and commands, so the same world (same arrivals, same agents) can
be replayed against it.

What it models:
- one app_queue queue per cc-router queue; its members are the agents who meet any
  step of the queue's requirement, with penalty 100 * (first step they meet); for
  `best_skill` queues the penalty also falls with the agent's skill score, as people
  configure app_queue to prefer stronger agents;
- `queue_rules`: the caller's max penalty starts at 99 and rises by 100 at each step's
  `after_s` (the QUEUE_MAX_PENALTY / queue_rules way of widening);
- strategies leastrecent, fewestcalls (per queue), rrmemory, linear, random; the member
  with the lowest penalty wins, the strategy only orders equal penalties;
- callers are served in their own queue's order (QUEUE_PRIO, then arrival) but there is
  no order across queues: a member freed is taken by whichever queue's caller tries first;
- callers try when they arrive, and otherwise every `retry_s` (app_queue's `retry`,
  5 s by default), so a member who becomes free is not offered work until some caller's
  next try; `autofill` lets the first N callers ring N free members at once;
- queue `weight` (= cc-router's queue priority): a member is skipped for a queue while a
  queue with a higher weight that he belongs to has callers waiting;
- `wrapuptime`, ring timeout, maxlen, timeout (max wait) with a new Queue() in the
  overflow queue (seniority is lost), leavewhenempty/joinempty as `on_empty`;
- no autopause (app_queue's default): a member who does not answer stays available.
An agent holds one interaction at a time, whatever the channel (app_queue is voice).
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar

from cc_router.core import commands as cmd
from cc_router.core import events as ev
from cc_router.core.expr import SkillIndex, any_of, parse, positive_skills
from cc_router.core.spec import CentreSpec, ExitKind, ExitTarget, QueueSpec, Strategy
from cc_router.core.vocabulary import (
    CALLER_HANGUP,
    EXIT_OUTCOME,
    AgentState,
    CancelReason,
    ExitReason,
    Outcome,
    QueueReason,
    RejectCode,
    Trigger,
)

MAX_HOPS = 8
STEP_PENALTY = 100


class AqStrategy(StrEnum):
    LEASTRECENT = "leastrecent"
    FEWESTCALLS = "fewestcalls"
    RRMEMORY = "rrmemory"
    LINEAR = "linear"
    RANDOM = "random"


STRATEGY_MAP = {
    Strategy.LONGEST_IDLE: AqStrategy.LEASTRECENT,
    Strategy.FEWEST_INTERACTIONS: AqStrategy.FEWESTCALLS,
    Strategy.ROUND_ROBIN: AqStrategy.RRMEMORY,
    Strategy.LINEAR: AqStrategy.LINEAR,
    Strategy.RANDOM: AqStrategy.RANDOM,
    Strategy.WEIGHTED_RANDOM: AqStrategy.RANDOM,
    Strategy.BEST_SKILL: AqStrategy.LEASTRECENT,
}


@dataclass(frozen=True, slots=True)
class AppQueueOptions:
    strategy: AqStrategy | None = None
    """One strategy for every queue; None maps each queue's own strategy."""
    retry_s: float = 5.0
    autofill: bool = True
    use_weight: bool = True
    widen: bool = True
    """False: members beyond penalty 99 are never used (no queue_rules)."""
    seed: int = 0


@dataclass(slots=True, eq=False)
class _Member:
    id: str
    index: int
    queues: list[tuple[_Queue, int]] = field(default_factory=list)
    logged_in: bool = False
    paused: bool = False
    pause_reason: str = ""
    pause_token: int = 0
    call: str | None = None
    ringing: str | None = None
    """Offer id."""
    wrapping: bool = False
    wrap_token: int = 0
    last_call: float = 0.0
    state: AgentState = AgentState.LOGGED_OUT
    reason: str = ""
    since: float = 0.0
    available: bool = False


@dataclass(slots=True, eq=False)
class _Queue:
    spec: QueueSpec
    index: int
    strategy: AqStrategy
    members: dict[str, int] = field(default_factory=dict)
    """member id -> penalty"""
    order: dict[str, int] = field(default_factory=dict)
    """member id -> position in the member list (linear, rrmemory)"""
    free: set[str] = field(default_factory=set)
    callers: list[_Caller] = field(default_factory=list)
    calls: dict[str, int] = field(default_factory=dict)
    rr_last: int = -1
    poll_token: int = 0
    poll_pending: bool = False
    waiting: int = 0

    @property
    def name(self) -> str:
        return self.spec.name


@dataclass(slots=True, eq=False)
class _Caller:
    id: str
    caller: str
    priority: int
    queue: _Queue
    joined_at: float
    seq: int
    join_token: int = 0
    ringing: str | None = None
    connected_to: str | None = None
    answered_at: float | None = None
    offered_at: float | None = None
    misses: int = 0
    hops: int = 0


@dataclass(slots=True)
class _Offer:
    offer_id: str
    caller: _Caller
    member: _Member


class AppQueueRouter:
    """app_queue, modelled; same `handle(event, now)` interface as `Router`."""

    def __init__(self, centre: CentreSpec, options: AppQueueOptions | None = None) -> None:
        self.centre = centre
        self.options = options or AppQueueOptions(seed=centre.routing.seed)
        self.rng = random.Random(self.options.seed)
        self.now = 0.0
        self._timers: list[tuple[float, int, str, Any, int]] = []
        self._seq = 0
        self._offer_seq = 0
        self._out: list[cmd.Command] = []
        self.members = {a.id: _Member(a.id, i) for i, a in enumerate(centre.agents)}
        self.callers: dict[str, _Caller] = {}
        self.offers: dict[str, _Offer] = {}
        self.queues: dict[str, _Queue] = {}
        index = SkillIndex()
        for a in centre.agents:
            index.add(a.id, a.skills)
        skills = {a.id: a.skills for a in centre.agents}
        for qi, q in enumerate(centre.queues):
            strategy = self.options.strategy or STRATEGY_MAP[q.strategy]
            aq = _Queue(q, qi, strategy)
            nodes = [parse(q.requirement, centre.skills)]
            score_skills = positive_skills(nodes[0])
            levels = [0, *(i + 1 for i in range(len(q.steps)))]
            for k in levels:
                if k:
                    nodes.append(parse(q.steps[k - 1].requirement, centre.skills))
                for aid in index.members(any_of(nodes)):
                    if aid in aq.members:
                        continue
                    penalty = STEP_PENALTY * k
                    if q.strategy is Strategy.BEST_SKILL:
                        score = sum(skills[aid].get(s, 0) for s in score_skills)
                        penalty += max(0, STEP_PENALTY - 1 - score)
                    aq.members[aid] = penalty
            for pos, a in enumerate(centre.agents):
                if a.id in aq.members:
                    aq.order[a.id] = pos
                    profile = centre.profiles.get(a.profile)
                    if profile is not None and profile.capacity.get(q.channel, 0) <= 0:
                        del aq.members[a.id]
                        del aq.order[a.id]
                        continue
                    self.members[a.id].queues.append((aq, aq.members[a.id]))
            self.queues[q.name] = aq

    # ------------------------------------------------------------------ interface

    def handle(self, event: ev.Event, now: float) -> list[cmd.Command]:
        out = self._out = []
        self._fire(now)
        if now > self.now:
            self.now = now
        h = self._handlers.get(type(event))
        if h is None:
            out.append(
                cmd.EventRejected(event, RejectCode.NOT_MODELLED, f"not modelled: {type(event).__name__}")
            )
        else:
            h(self, event)
        self._out = []
        return out

    def next_timer_at(self) -> float | None:
        return self._timers[0][0] if self._timers else None

    # ------------------------------------------------------------------ timers

    def _timer(self, due: float, kind: str, ref: Any, guard: int) -> None:
        self._seq += 1
        heapq.heappush(self._timers, (due, self._seq, kind, ref, guard))

    def _fire(self, now: float) -> None:
        timers = self._timers
        while timers and timers[0][0] <= now:
            due, _s, kind, ref, guard = heapq.heappop(timers)
            if due > self.now:
                self.now = due
            if kind == "poll":
                q: _Queue = ref
                if q.poll_token == guard:
                    q.poll_pending = False
                    self._try(q)
            elif kind == "offer":
                o = self.offers.get(ref)
                if o is not None:
                    self._out.append(
                        cmd.CancelOffer(o.offer_id, o.caller.id, o.member.id, CancelReason.TIMEOUT)
                    )
                    self._no_answer(o)
            elif kind == "wrap":
                m: _Member = ref
                if m.wrapping and m.wrap_token == guard:
                    m.wrapping = False
                    m.last_call = self.now
                    self._refresh(m)
            elif kind == "pause":
                m = ref
                if m.paused and m.pause_token == guard:
                    m.paused = False
                    m.pause_reason = ""
                    self._refresh(m)
            elif kind == "max_wait":
                c: _Caller = ref
                if c.id in self.callers and c.join_token == guard and c.connected_to is None:
                    self._timeout(c)

    # ------------------------------------------------------------------ members

    def _refresh(self, m: _Member) -> None:
        """Recompute the member's state and availability (no routing: callers poll)."""
        avail = m.logged_in and not m.paused and m.call is None and m.ringing is None and not m.wrapping
        if avail != m.available:
            m.available = avail
            for q, _pen in m.queues:
                if avail:
                    q.free.add(m.id)
                else:
                    q.free.discard(m.id)
        if m.call is not None:
            state, reason = AgentState.BUSY, ""
        elif m.ringing is not None:
            state, reason = AgentState.RESERVED, ""
        elif m.wrapping:
            state, reason = AgentState.WRAP_UP, ""
        elif not m.logged_in:
            state, reason = AgentState.LOGGED_OUT, ""
        elif m.paused:
            state, reason = AgentState.PAUSED, m.pause_reason
        else:
            state, reason = AgentState.READY, ""
        if state != m.state or reason != m.reason:
            self._out.append(cmd.AgentStateChanged(m.id, state, reason, self.now, m.state, m.since))
            m.state, m.reason, m.since = state, reason, self.now

    def _member(self, e: object, agent_id: str) -> _Member | None:
        m = self.members.get(agent_id)
        if m is None:
            self._out.append(cmd.EventRejected(e, RejectCode.UNKNOWN_AGENT, f"unknown agent {agent_id!r}"))
        return m

    def _on_login(self, e: ev.AgentLoggedIn) -> None:
        m = self._member(e, e.agent_id)
        if m is not None and not m.logged_in:
            m.logged_in = True
            m.paused = False
            self._refresh(m)

    def _on_logout(self, e: ev.AgentLoggedOut) -> None:
        m = self._member(e, e.agent_id)
        if m is None or not m.logged_in:
            return
        m.logged_in = False
        m.paused = False
        if m.ringing is not None:
            o = self.offers[m.ringing]
            self._out.append(cmd.CancelOffer(o.offer_id, o.caller.id, m.id, CancelReason.AGENT_LOGGED_OUT))
            self._no_answer(o, miss=False)
        self._refresh(m)
        for q, _pen in m.queues:
            if (
                q.spec.on_empty is not None
                and q.callers
                and not any(self.members[a].logged_in for a in q.members)
            ):
                for c in list(q.callers):
                    if c.ringing is None:
                        self._exit(c, q.spec.on_empty, ExitReason.EMPTY)

    def _on_pause(self, e: ev.AgentPaused) -> None:
        m = self._member(e, e.agent_id)
        if m is None:
            return
        if not m.logged_in:
            self._out.append(cmd.EventRejected(e, RejectCode.LOGGED_OUT, f"agent {m.id} is logged out"))
            return
        m.paused = True
        m.pause_reason = e.reason
        m.pause_token += 1
        if e.max_s:
            self._timer(self.now + e.max_s, "pause", m, m.pause_token)
        self._refresh(m)

    def _on_unpause(self, e: ev.AgentUnpaused) -> None:
        m = self._member(e, e.agent_id)
        if m is not None and m.paused:
            m.paused = False
            m.pause_token += 1
            self._refresh(m)

    def _on_wrap_done(self, e: ev.AgentWrapUpDone) -> None:
        m = self._member(e, e.agent_id)
        if m is not None and m.wrapping:
            m.wrapping = False
            m.last_call = self.now
            self._refresh(m)

    def _on_ignored(self, e: object) -> None:
        return

    # ------------------------------------------------------------------ callers

    def _on_arrival(self, e: ev.InteractionArrived) -> None:
        q = self.queues.get(e.queue)
        if q is None:
            self._out.append(cmd.EventRejected(e, RejectCode.UNKNOWN_QUEUE, f"unknown queue {e.queue!r}"))
            return
        self._seq += 1
        c = _Caller(e.interaction_id, e.caller, e.priority, q, self.now, self._seq)
        self.callers[c.id] = c
        self._join(c, QueueReason.ARRIVED)

    def _join(self, c: _Caller, reason: QueueReason) -> None:
        q = c.queue
        spec = q.spec
        if spec.max_length is not None and len(q.callers) >= spec.max_length:
            self._exit(c, spec.on_max_length, ExitReason.MAX_LENGTH)
            return
        if spec.on_empty is not None and not any(self.members[a].logged_in for a in q.members):
            self._exit(c, spec.on_empty, ExitReason.EMPTY)
            return
        c.joined_at = self.now
        c.join_token += 1
        self._seq += 1
        c.seq = self._seq
        # QUEUE_PRIO: ahead of everyone with a lower priority, behind equals.
        callers = q.callers
        pos = len(callers)
        while pos > 0 and callers[pos - 1].priority < c.priority:
            pos -= 1
        callers.insert(pos, c)
        q.waiting += 1
        if spec.max_wait_s is not None:
            self._timer(self.now + spec.max_wait_s, "max_wait", c, c.join_token)
        self._out.append(cmd.InteractionQueued(c.id, spec.name, spec.channel, 0, reason, self.now))
        self._try(q)

    def _max_penalty(self, c: _Caller) -> int:
        if not self.options.widen:
            return STEP_PENALTY - 1
        waited = self.now - c.joined_at
        k = sum(1 for s in c.queue.spec.steps if waited >= s.after_s)
        return STEP_PENALTY * k + STEP_PENALTY - 1

    def _try(self, q: _Queue) -> None:
        """The callers whose turn it is try to ring a member (one app_queue try)."""
        free = len(q.free)
        turns = max(1, free) if self.options.autofill else 1
        unserved = False
        pos = 0
        for c in list(q.callers):
            if c.ringing is not None:
                continue
            pos += 1
            if pos > turns:
                unserved = True
                break
            m = self._pick(q, c)
            if m is None:
                unserved = True
                continue
            self._ring(c, m)
        if unserved or any(c.ringing is None for c in q.callers):
            self._poll_later(q)

    def _poll_later(self, q: _Queue) -> None:
        if not q.poll_pending:
            q.poll_pending = True
            q.poll_token += 1
            self._timer(self.now + self.options.retry_s, "poll", q, q.poll_token)

    def _pick(self, q: _Queue, c: _Caller) -> _Member | None:
        if not q.free:
            return None
        limit = self._max_penalty(c)
        best: tuple[Any, ...] | None = None
        chosen: _Member | None = None
        strategy = q.strategy
        n = len(q.order)
        for aid in q.free:
            pen = q.members[aid]
            if pen > limit:
                continue
            m = self.members[aid]
            if self.options.use_weight and self._wanted_elsewhere(m, q):
                continue
            if strategy is AqStrategy.LEASTRECENT:
                metric: float = m.last_call
            elif strategy is AqStrategy.FEWESTCALLS:
                metric = q.calls.get(aid, 0)
            elif strategy is AqStrategy.RRMEMORY:
                metric = (q.order[aid] - q.rr_last - 1) % n
            elif strategy is AqStrategy.LINEAR:
                metric = q.order[aid]
            else:
                metric = self.rng.random()
            key = (pen, metric, m.index)
            if best is None or key < best:
                best, chosen = key, m
        return chosen

    def _wanted_elsewhere(self, m: _Member, q: _Queue) -> bool:
        w = q.spec.priority
        for other, _pen in m.queues:
            if other is not q and other.spec.priority > w and other.waiting > 0:
                return True
        return False

    def _ring(self, c: _Caller, m: _Member) -> None:
        q = c.queue
        self._offer_seq += 1
        oid = f"aq{self._offer_seq}"
        o = _Offer(oid, c, m)
        self.offers[oid] = o
        c.ringing = oid
        q.waiting -= 1
        if c.offered_at is None:
            c.offered_at = self.now
        m.ringing = oid
        if q.strategy is AqStrategy.RRMEMORY:
            q.rr_last = q.order[m.id]
        spec = q.spec
        expl = cmd.Explanation(
            Trigger.APP_QUEUE,
            spec.name,
            str(q.strategy),
            0,
            spec.requirement,
            m.id,
            (q.members[m.id],),
            (),
            (),
            0,
        )
        self._timer(self.now + spec.ring_timeout_s + self.centre.routing.offer_grace_s, "offer", oid, 0)
        self._out.append(cmd.Offer(oid, c.id, m.id, spec.name, spec.channel, spec.ring_timeout_s, expl))
        self._refresh(m)

    def _close(self, o: _Offer) -> None:
        self.offers.pop(o.offer_id, None)
        o.caller.ringing = None
        o.member.ringing = None

    def _no_answer(self, o: _Offer, miss: bool = True) -> None:
        self._close(o)
        c = o.caller
        if miss:
            c.misses += 1
        c.queue.waiting += 1
        self._refresh(o.member)
        # The caller waits `retry` before trying again; so does everyone behind it.
        self._poll_later(c.queue)

    def _pending(self, e: ev.OfferAccepted | ev.OfferDeclined) -> _Offer | None:
        c = self.callers.get(e.interaction_id)
        o = self.offers.get(c.ringing) if c is not None and c.ringing else None
        if o is None or o.member.id != e.agent_id:
            self._out.append(cmd.EventRejected(e, RejectCode.NO_PENDING_OFFER, "no such pending offer"))
            return None
        return o

    def _on_accept(self, e: ev.OfferAccepted) -> None:
        o = self._pending(e)
        if o is None:
            return
        self._close(o)
        c, m = o.caller, o.member
        q = c.queue
        q.callers.remove(c)
        c.connected_to = m.id
        c.answered_at = self.now
        m.call = c.id
        q.calls[m.id] = q.calls.get(m.id, 0) + 1
        self._out.append(
            cmd.InteractionConnected(c.id, m.id, q.name, q.spec.channel, self.now - c.joined_at, self.now)
        )
        self._refresh(m)

    def _on_decline(self, e: ev.OfferDeclined) -> None:
        o = self._pending(e)
        if o is not None:
            self._no_answer(o)

    def _on_abandon(self, e: ev.InteractionAbandoned | ev.InteractionEnded) -> None:
        c = self.callers.get(e.interaction_id)
        if c is None:
            self._out.append(
                cmd.EventRejected(
                    e, RejectCode.UNKNOWN_INTERACTION, f"unknown interaction {e.interaction_id!r}"
                )
            )
            return
        if c.connected_to is not None:
            self._end_call(c, getattr(e, "disposition", "") or CALLER_HANGUP)
            return
        outcome = Outcome.ABANDONED
        if c.ringing is not None:
            o = self.offers[c.ringing]
            self._out.append(cmd.CancelOffer(o.offer_id, c.id, o.member.id, CancelReason.CALLER_GONE))
            self._close(o)
            c.queue.waiting += 1
            self._refresh(o.member)
            outcome = Outcome.ABANDONED_RINGING
        self._leave(c)
        self._finish(c, outcome)

    def _leave(self, c: _Caller) -> None:
        q = c.queue
        if c in q.callers:
            q.callers.remove(c)
            q.waiting -= 1

    def _end_call(self, c: _Caller, disposition: str) -> None:
        m = self.members.get(c.connected_to or "")
        self._finish(c, Outcome.ANSWERED, disposition)
        if m is None:
            return
        m.call = None
        wrap = c.queue.spec.wrapup_s
        if wrap > 0:
            m.wrapping = True
            m.wrap_token += 1
            self._timer(self.now + wrap, "wrap", m, m.wrap_token)
        else:
            m.last_call = self.now
        self._refresh(m)

    def _timeout(self, c: _Caller) -> None:
        if c.ringing is not None:
            o = self.offers[c.ringing]
            self._out.append(cmd.CancelOffer(o.offer_id, c.id, o.member.id, CancelReason.MAX_WAIT))
            self._close(o)
            c.queue.waiting += 1
            self._refresh(o.member)
        self._exit(c, c.queue.spec.on_max_wait, ExitReason.MAX_WAIT)

    def _exit(self, c: _Caller, target: ExitTarget | None, reason: ExitReason) -> None:
        q = c.queue
        self._leave(c)
        if target is not None and target.kind is ExitKind.QUEUE and c.hops < MAX_HOPS:
            dest = self.queues.get(target.value)
            if dest is not None:
                self._finish(c, Outcome.OVERFLOWED, keep=True)
                c.hops += 1
                c.queue = dest
                c.offered_at = None
                c.misses = 0
                self._join(c, QueueReason.OVERFLOWED)
                return
        self._out.append(cmd.ExitInteraction(c.id, q.name, target, reason))
        self._finish(c, EXIT_OUTCOME[reason])

    def _finish(self, c: _Caller, outcome: Outcome, disposition: str = "", keep: bool = False) -> None:
        now = self.now
        wait_end = c.answered_at if c.answered_at is not None else now
        self._out.append(
            cmd.InteractionFinished(
                interaction_id=c.id,
                queue=c.queue.name,
                channel=c.queue.spec.channel,
                caller=c.caller,
                outcome=outcome,
                agent_id=c.connected_to,
                enqueued_at=c.joined_at,
                offered_at=c.offered_at,
                answered_at=c.answered_at,
                ended_at=now,
                wait_s=max(0.0, wait_end - c.joined_at),
                talk_s=now - c.answered_at if c.answered_at is not None else 0.0,
                step=0,
                misses=c.misses,
                disposition=disposition,
                explanation=None,
            )
        )
        if not keep:
            self.callers.pop(c.id, None)

    _handlers: ClassVar[dict[type, Callable[[Any, Any], None]]] = {}


AppQueueRouter._handlers = {
    ev.AgentLoggedIn: AppQueueRouter._on_login,
    ev.AgentLoggedOut: AppQueueRouter._on_logout,
    ev.AgentPaused: AppQueueRouter._on_pause,
    ev.AgentUnpaused: AppQueueRouter._on_unpause,
    ev.AgentWrapUpDone: AppQueueRouter._on_wrap_done,
    ev.InteractionArrived: AppQueueRouter._on_arrival,
    ev.InteractionAbandoned: AppQueueRouter._on_abandon,
    ev.InteractionEnded: AppQueueRouter._on_abandon,
    ev.OfferAccepted: AppQueueRouter._on_accept,
    ev.OfferDeclined: AppQueueRouter._on_decline,
    ev.Tick: AppQueueRouter._on_ignored,
}


def app_queue_factory(options: AppQueueOptions | None = None) -> Callable[[CentreSpec], AppQueueRouter]:
    return lambda centre: AppQueueRouter(centre, options)
