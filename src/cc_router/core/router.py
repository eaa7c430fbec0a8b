"""The routing core: `Router.handle(event, now) -> [commands]`.

Pure and synchronous. Two questions are asked over and over:
- an interaction needs an agent (arrival, escalation, return): take the best entry of the
  pool of free agents behind its queue's current step;
- an agent becomes free: take the best head among the buckets it is eligible for, in
  one order across every queue (priority, then seniority), so no queue is served by luck.
Everything else is bookkeeping that keeps those two indexes true.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any, ClassVar, cast

from cc_router.core import commands as cmd
from cc_router.core import events as ev
from cc_router.core.expr import Node, SkillIndex, any_of, evaluate, parse
from cc_router.core.pools import Bucket, InteractionEntry, Pool
from cc_router.core.records import (
    AgentRec,
    AgentState,
    InteractionRec,
    OfferRec,
    Presence,
    QueueRec,
    Stage,
)
from cc_router.core.spec import (
    CentreSpec,
    Channel,
    ExitKind,
    ExitTarget,
    ProfileSpec,
    QueueSpec,
    Strategy,
)

MAX_OVERFLOW_HOPS = 8
_CANDIDATES_SHOWN = 3

Candidates = list[tuple[str, tuple[float, ...]]]
FoundInteraction = tuple[InteractionRec, Bucket, tuple[float, ...], Candidates, list[tuple[str, str]], int]
FoundAgent = tuple[AgentRec, tuple[float, ...], Candidates, list[tuple[str, str]], int]
Timer = tuple[float, int, str, str, int]
"""(due, seq, kind, ref, guard): the guard tells a timer that no longer applies."""


class Router:
    def __init__(self, centre: CentreSpec) -> None:
        self.centre = centre
        self.agents: dict[str, AgentRec] = {}
        self.queues: dict[str, QueueRec] = {}
        self.interactions: dict[str, InteractionRec] = {}
        self.pools: dict[tuple[Channel, str, Strategy, str], Pool] = {}
        self.offers: dict[str, OfferRec] = {}
        self.direct: dict[str, list[str]] = {}
        """Interactions waiting for one agent (transferred to them), per agent, oldest first."""
        self.rng = random.Random(centre.routing.seed)
        self.now = 0.0
        self._seq = 0
        self._offer_seq = 0
        self._timers: list[Timer] = []
        self._out: list[cmd.Command] = []
        self._build(centre, first=True)

    # ------------------------------------------------------------------ entry point

    def handle(self, event: ev.Event, now: float) -> list[cmd.Command]:
        out = self._out = []
        self._fire_timers(now)
        if now > self.now:
            self.now = now
        handler = self._handlers.get(type(event))
        if handler is None:
            out.append(cmd.EventRejected(event, f"unknown event type {type(event).__name__}"))
        else:
            handler(self, event)
        self._out = []
        return out

    def next_timer_at(self) -> float | None:
        """When the next timer falls due: a driver ticks the core no later than this."""
        return self._timers[0][0] if self._timers else None

    # ------------------------------------------------------------------ building

    def _build(self, centre: CentreSpec, first: bool = False) -> None:
        self.centre = centre
        known = centre.skills
        old_agents = self.agents
        self.agents = {}
        for pos, spec in enumerate(centre.agents):
            profile = centre.profiles.get(spec.profile) or ProfileSpec(spec.profile)
            rec = old_agents.pop(spec.id, None)
            if rec is None:
                rec = AgentRec(spec=spec, index=pos, profile=profile, state_since=self.now)
            else:
                rec.spec, rec.index, rec.profile = spec, pos, profile
            rec.pools, rec.buckets = {}, {}
            self.agents[spec.id] = rec
        gone_agents = list(old_agents.values())
        for gone in gone_agents:
            # Agents dropped from the config finish what they hold, then disappear.
            if gone.connected or gone.wrapping or gone.offer is not None:
                gone.index = len(self.agents)
                gone.pools, gone.buckets = {}, {}
                self.agents[gone.id] = gone

        index = SkillIndex()
        for a in self.agents.values():
            index.add(a.id, a.skills)

        self.pools = {}
        old_queues = self.queues
        self.queues = {}
        for qspec in centre.queues:
            q = old_queues.pop(qspec.name, None) or QueueRec(qspec)
            q.spec, q.buckets, q.waiting = qspec, [], 0
            self.queues[qspec.name] = q
            base = parse(qspec.requirement, known)
            nodes: list[Node] = [base]
            boost = 0
            for step_no in range(len(qspec.steps) + 1):
                if step_no:
                    step = qspec.steps[step_no - 1]
                    nodes.append(parse(step.requirement, known))
                    boost += step.priority_boost
                pool = self._pool(qspec, any_of(nodes), index)
                q.buckets.append(Bucket(q, step_no, pool, boost))

        for pool in self.pools.values():
            for aid in pool.members:
                a = self.agents[aid]
                a.pools.setdefault(pool.channel, []).append(pool)
                if a.presence is not Presence.LOGGED_OUT:
                    pool.logged_in += 1
        for q in self.queues.values():
            for b in q.buckets:
                bucket = cast(Bucket, b)
                for aid in bucket.pool.members:
                    self.agents[aid].buckets.setdefault(bucket.channel, []).append(bucket)

        if first:
            return
        # Everything waiting is placed again under the new rules, keeping its seniority.
        self._timers = [t for t in self._timers if t[2] not in ("step", "max_wait")]
        heapq.heapify(self._timers)
        waiting = sorted(
            (i for i in self.interactions.values() if i.stage is Stage.WAITING and i.target_agent is None),
            key=lambda i: (i.order_time, i.seq),
        )
        for it in waiting:
            it.bucket = None
            it.token += 1
            q2 = self.queues.get(it.queue.name)
            if q2 is None:
                self._exit(it, None, "queue_removed")
                continue
            it.queue = q2
            self._enqueue(it, "rebuilt", match=False)
        for it in self.interactions.values():
            if it.stage is not Stage.WAITING and it.queue.name in self.queues:
                it.queue = self.queues[it.queue.name]
        for gone in gone_agents:
            self._logout(gone)
            if not (gone.connected or gone.wrapping):
                self.agents.pop(gone.id, None)
        for a in list(self.agents.values()):
            self._refresh(a, "rebalance")
        for it in waiting:
            if it.stage is Stage.WAITING:
                self._match_interaction(it, "rebalance")

    def _pool(self, qspec: QueueSpec, node: Node, index: SkillIndex) -> Pool:
        scope = qspec.name if qspec.strategy is Strategy.ROUND_ROBIN else ""
        key = (qspec.channel, str(node), qspec.strategy, scope)
        pool = self.pools.get(key)
        if pool is None:
            pool = Pool(qspec.channel, node, qspec.strategy, scope)
            pool.members = index.members(node)
            self.pools[key] = pool
        return pool

    # ------------------------------------------------------------------ timers

    def _timer(self, due: float, kind: str, ref: str, guard: int) -> None:
        self._seq += 1
        heapq.heappush(self._timers, (due, self._seq, kind, ref, guard))

    def _fire_timers(self, now: float) -> None:
        # Each timer fires at its own due time, so results do not depend on how often
        # the driver ticks.
        timers = self._timers
        while timers and timers[0][0] <= now:
            due, _seq, kind, ref, guard = heapq.heappop(timers)
            if due > self.now:
                self.now = due
            if kind == "offer":
                offer = self.offers.get(ref)
                if offer is not None and guard == 0:
                    self._out.append(
                        cmd.CancelOffer(offer.offer_id, offer.interaction_id, offer.agent_id, "timeout")
                    )
                    self._declined(offer, "timeout")
            elif kind in ("step", "max_wait", "retry", "direct"):
                it = self.interactions.get(ref)
                # A retry outlives re-queueing (it is tied to an exclusion, not to a visit).
                if it is None or it.stage is not Stage.WAITING:
                    continue
                if (it.seq if kind == "retry" else it.join) != guard:
                    continue
                if kind == "direct":
                    if it.target_agent is not None:
                        self._leave_bucket(it)
                        self._enqueue(it, "direct_fallback")
                elif kind == "step":
                    self._escalate(it)
                elif kind == "max_wait":
                    spec = it.queue.spec
                    self._exit(it, spec.on_max_wait, "max_wait")
                else:
                    self._match_interaction(it, "retry")
            elif kind == "wrap":
                agent_id, _, iid = ref.partition("\x00")
                a = self.agents.get(agent_id)
                if a is not None and iid in a.wrapping:
                    self._end_wrap(a, iid)
                    self._refresh(a, "agent_free")
            elif kind == "pause":
                a = self.agents.get(ref)
                if a is not None and a.presence is Presence.PAUSED and a.pause_token == guard:
                    a.presence = Presence.READY
                    a.pause_reason = ""
                    a.idle_since = self.now
                    self._publish(a)
                    self._refresh(a, "agent_free")

    # ------------------------------------------------------------------ agents

    def _agent(self, event: object, agent_id: str) -> AgentRec | None:
        a = self.agents.get(agent_id)
        if a is None:
            self._out.append(cmd.EventRejected(event, f"unknown agent {agent_id!r}"))
        return a

    def _on_login(self, e: ev.AgentLoggedIn) -> None:
        a = self._agent(e, e.agent_id)
        if a is None or a.presence is not Presence.LOGGED_OUT:
            return
        a.presence = Presence.READY
        a.misses = 0
        a.idle_since = self.now
        for pools in a.pools.values():
            for p in pools:
                cast(Pool, p).logged_in += 1
        self._publish(a)
        self._refresh(a, "agent_free")

    def _on_restore(self, e: ev.AgentSessionRestored) -> None:
        a = self._agent(e, e.agent_id)
        if a is None:
            return
        if a.presence is not Presence.LOGGED_OUT:
            self._out.append(cmd.EventRejected(e, f"agent {a.id} is already logged in"))
            return
        since = min(e.since, self.now)
        a.presence = Presence.READY
        a.idle_since = since
        for pools in a.pools.values():
            for p in pools:
                cast(Pool, p).logged_in += 1
        if e.paused:
            a.presence = Presence.PAUSED
            a.pause_reason = e.reason
            a.pause_token += 1
            if e.max_s is not None and e.max_s > 0:
                # Already over: the timer fires on the next event or tick.
                self._timer(since + e.max_s, "pause", a.id, a.pause_token)
        self._publish(a, since)
        self._refresh(a, "agent_free")

    def _on_logout(self, e: ev.AgentLoggedOut) -> None:
        a = self._agent(e, e.agent_id)
        if a is not None:
            self._logout(a)

    def _logout(self, a: AgentRec) -> None:
        if a.presence is Presence.LOGGED_OUT:
            return
        a.presence = Presence.LOGGED_OUT
        a.pause_reason = ""
        for pools in a.pools.values():
            for p in pools:
                cast(Pool, p).logged_in -= 1
        if a.offer is not None:
            offer = a.offer
            self._out.append(cmd.CancelOffer(offer.offer_id, offer.interaction_id, a.id, "agent_logged_out"))
            self._return_offer(offer, miss=False)
        a.token += 1
        self._publish(a)
        self._leave_if_empty(a)

    def _on_pause(self, e: ev.AgentPaused) -> None:
        a = self._agent(e, e.agent_id)
        if a is None:
            return
        if a.presence is Presence.LOGGED_OUT:
            self._out.append(cmd.EventRejected(e, f"agent {a.id} is logged out"))
            return
        self._pause(a, e.reason, e.max_s)

    def _pause(self, a: AgentRec, reason: str, max_s: float | None) -> None:
        a.presence = Presence.PAUSED
        a.pause_reason = reason
        a.pause_token += 1
        a.token += 1
        if max_s is not None and max_s > 0:
            self._timer(self.now + max_s, "pause", a.id, a.pause_token)
        self._publish(a)

    def _on_unpause(self, e: ev.AgentUnpaused) -> None:
        a = self._agent(e, e.agent_id)
        if a is None or a.presence is not Presence.PAUSED:
            return
        a.presence = Presence.READY
        a.pause_reason = ""
        a.pause_token += 1
        a.misses = 0
        a.idle_since = self.now
        self._publish(a)
        self._refresh(a, "agent_free")

    def _on_device(self, e: ev.AgentDeviceChanged) -> None:
        a = self._agent(e, e.agent_id)
        if a is None or a.device_in_use == e.in_use:
            return
        a.device_in_use = e.in_use
        if not e.in_use:
            a.idle_since = max(a.idle_since, self.now)
        self._publish(a)
        self._refresh(a, "agent_free")

    def _on_skills(self, e: ev.AgentSkillsChanged) -> None:
        a = self._agent(e, e.agent_id)
        if a is None:
            return
        unknown = sorted(s for s in e.skills if s not in self.centre.skills)
        bad = sorted(s for s, lvl in e.skills.items() if not isinstance(lvl, int) or lvl < 0)
        if unknown or bad:
            why = f"unknown skill {', '.join(unknown)}" if unknown else f"bad level for {bad}"
            self._out.append(cmd.EventRejected(e, why))
            return
        spec = replace(a.spec, skills=dict(e.skills))
        agents = tuple(spec if s.id == a.id else s for s in self.centre.agents)
        self.centre = replace(self.centre, agents=agents)
        a.spec = spec
        logged_in = a.presence is not Presence.LOGGED_OUT
        a.pools, a.buckets = {}, {}
        for pool in self.pools.values():
            now_member = evaluate(pool.requirement, spec.skills)
            was_member = a.id in pool.members
            if now_member:
                a.pools.setdefault(pool.channel, []).append(pool)
                if not was_member:
                    pool.members.add(a.id)
                    pool.logged_in += logged_in
            elif was_member:
                pool.members.discard(a.id)
                pool.logged_in -= logged_in
        for q in self.queues.values():
            for b in q.buckets:
                bucket = cast(Bucket, b)
                if a.id in bucket.pool.members:
                    a.buckets.setdefault(bucket.channel, []).append(bucket)
        self._refresh(a, "agent_free")

    def _on_wrap_done(self, e: ev.AgentWrapUpDone) -> None:
        a = self._agent(e, e.agent_id)
        if a is None or not a.wrapping:
            return
        for iid in list(a.wrapping):
            self._end_wrap(a, iid)
        self._refresh(a, "agent_free")

    def _end_wrap(self, a: AgentRec, iid: str) -> None:
        ch = a.wrapping.pop(iid)
        self._release(a, ch)
        self._out.append(cmd.WrapUpEnded(a.id, iid, ch, self.now))
        self._publish(a)

    def _release(self, a: AgentRec, ch: Channel) -> None:
        a.load[ch] = a.load.get(ch, 0) - 1
        if not any(a.load.values()):
            a.idle_since = self.now

    def _publish(self, a: AgentRec, since: float | None = None) -> None:
        """`since`: the agent has been in its new state since then (restored after a
        restart); the change itself is still reported now, closing the stored interval
        that was open when the router stopped."""
        state, reason = a.derive_state()
        if state is a.state and reason == a.state_reason:
            return
        self._out.append(cmd.AgentStateChanged(a.id, state, reason, self.now, a.state, a.state_since))
        a.state, a.state_reason = state, reason
        a.state_since = self.now if since is None else since

    def _leave_if_empty(self, a: AgentRec) -> None:
        """Callers in a queue nobody can serve any more leave by its empty exit."""
        emptied = {
            q.name
            for q in self.queues.values()
            if q.spec.on_empty is not None
            and q.waiting
            and (widest := cast(Bucket, q.buckets[-1]).pool).logged_in == 0
            and a.id in widest.members
        }
        if not emptied:
            return
        for it in [i for i in self.interactions.values() if i.queue.name in emptied]:
            if it.stage is Stage.WAITING:
                self._exit(it, it.queue.spec.on_empty, "empty")

    # ------------------------------------------------------------------ matching

    def _refresh(self, a: AgentRec, trigger: str) -> None:
        """Re-index an agent after any change: offer it work or put it in its pools."""
        a.token += 1
        channels = a.free_channels()
        if not channels:
            return
        if a.id in self.direct and self._offer_direct(a, channels):
            return
        found = self._find_interaction(a, channels)
        if found is not None:
            it, bucket, score, heads, excluded, waiting = found
            self._offer(it, a, trigger, bucket, it.id, score, heads, excluded, waiting)
            return
        self._make_available(a, channels)

    def _make_available(self, a: AgentRec, channels: list[Channel]) -> None:
        for ch in channels:
            for p in a.pools.get(ch, ()):
                pool = cast(Pool, p)
                self._seq += 1
                pool.push(a, self.rng, self._seq)
                if len(pool.heap) > 2 * len(pool.members) + 32:
                    pool.compact(self.agents)

    def _find_interaction(self, a: AgentRec, channels: list[Channel]) -> FoundInteraction | None:
        inters = self.interactions
        best: InteractionEntry | None = None
        best_bucket: Bucket | None = None
        heads: list[tuple[str, tuple[float, ...]]] = []
        excluded: list[tuple[str, str]] = []
        waiting = 0
        for ch in channels:
            for b in a.buckets.get(ch, ()):
                bucket = cast(Bucket, b)
                if not bucket.live:
                    continue
                top = bucket.peek(inters)
                if top is None:
                    continue
                waiting += bucket.live
                it = inters[top[1]]
                if it.excluded and self._is_excluded(it, a.id):
                    excluded.append((it.id, "missed by this agent recently"))
                    alt = self._first_allowed(bucket, a.id)
                    if alt is None:
                        continue
                    top = alt
                heads.append((top[1], top[0]))
                if best is None or top[0] < best[0]:
                    best, best_bucket = top, bucket
        if best is None or best_bucket is None:
            return None
        heads.sort(key=lambda h: h[1])
        return inters[best[1]], best_bucket, best[0], heads[:_CANDIDATES_SHOWN], excluded, waiting

    def _first_allowed(self, bucket: Bucket, agent_id: str) -> InteractionEntry | None:
        for entry in bucket.valid_sorted(self.interactions):
            if not self._is_excluded(self.interactions[entry[1]], agent_id):
                return entry
        return None

    def _is_excluded(self, it: InteractionRec, agent_id: str) -> bool:
        until = it.excluded.get(agent_id)
        return until is not None and until > self.now

    def _find_agent(self, it: InteractionRec, bucket: Bucket) -> FoundAgent | None:
        pool = bucket.pool
        heap = pool.heap
        agents = self.agents
        set_aside = []
        excluded: list[tuple[str, str]] = []
        chosen: AgentRec | None = None
        score: tuple[float, ...] = ()
        while heap:
            top = heap[0]
            a = agents.get(top[2])
            if a is None or a.token != top[3]:
                heapq.heappop(heap)
                continue
            if it.excluded and self._is_excluded(it, a.id):
                excluded.append((a.id, "missed this interaction recently"))
                set_aside.append(heapq.heappop(heap))
                continue
            chosen, score = a, top[0]
            break
        for entry in set_aside:
            heapq.heappush(heap, entry)
        if chosen is None:
            return None
        shown = [
            (e[2], e[0])
            for e in heapq.nsmallest(_CANDIDATES_SHOWN + 1, heap[:15])
            if (x := agents.get(e[2])) is not None and x.token == e[3]
        ][:_CANDIDATES_SHOWN]
        return chosen, score, shown, excluded, len(heap)

    def _match_interaction(self, it: InteractionRec, trigger: str) -> None:
        bucket = cast(Bucket | None, it.bucket)
        if bucket is None:
            return  # waiting for one named agent: only that agent's refresh offers it
        found = self._find_agent(it, bucket)
        if found is None:
            return
        a, score, shown, excluded, pool_size = found
        self._offer(it, a, trigger, bucket, a.id, score, shown, excluded, pool_size)

    def _offer(
        self,
        it: InteractionRec,
        a: AgentRec,
        trigger: str,
        bucket: Bucket,
        chosen: str,
        score: tuple[float, ...],
        candidates: list[tuple[str, tuple[float, ...]]],
        excluded: list[tuple[str, str]],
        available: int,
    ) -> None:
        spec = it.queue.spec
        pool = bucket.pool
        if not candidates or candidates[0][0] != chosen:
            candidates = [(chosen, score), *candidates][:_CANDIDATES_SHOWN]
        explanation = cmd.Explanation(
            trigger=trigger,
            queue=spec.name,
            strategy=str(pool.strategy),
            step=it.step,
            requirement=str(pool.requirement),
            chosen=chosen,
            score=tuple(score),
            candidates=tuple(candidates),
            excluded=tuple(excluded),
            available=available,
        )
        self._leave_bucket(it)
        self._offer_seq += 1
        offer = OfferRec(f"o{self._offer_seq}", it.id, a.id, spec.channel, self.now, explanation)
        self.offers[offer.offer_id] = offer
        a.offer = offer
        a.token += 1
        it.offer = offer
        it.stage = Stage.OFFERED
        it.agent_id = a.id
        it.explanation = explanation
        if it.offered_at is None:
            it.offered_at = self.now
        pool.remember_offer(a.id)
        timeout = spec.ring_timeout_s
        self._timer(self.now + timeout + self.centre.routing.offer_grace_s, "offer", offer.offer_id, 0)
        self._out.append(
            cmd.Offer(offer.offer_id, it.id, a.id, spec.name, spec.channel, timeout, explanation)
        )
        self._publish(a)

    # ------------------------------------------------------------------ interactions

    def _on_arrival(self, e: ev.InteractionArrived) -> None:
        q = self.queues.get(e.queue)
        if q is None:
            self._out.append(cmd.EventRejected(e, f"unknown queue {e.queue!r}"))
            return
        if e.interaction_id in self.interactions:
            self._out.append(cmd.EventRejected(e, f"interaction {e.interaction_id!r} already known"))
            return
        self._seq += 1
        since = self.now if e.since is None else min(e.since, self.now)
        it = InteractionRec(
            id=e.interaction_id,
            queue=q,
            priority=e.priority,
            caller=e.caller,
            attributes=dict(e.attributes),
            arrived_at=since,
            order_time=since,
            seq=self._seq,
            queue_joined_at=since,
        )
        self.interactions[it.id] = it
        self._join(it, "arrived")

    def _join(self, it: InteractionRec, reason: str) -> None:
        """Put `it` into its queue, honouring the queue's entry exits."""
        q = it.queue
        spec = q.spec
        if spec.max_length is not None and q.waiting >= spec.max_length:
            self._exit(it, spec.on_max_length, "max_length")
            return
        if spec.on_empty is not None and cast(Bucket, q.buckets[-1]).pool.logged_in == 0:
            self._exit(it, spec.on_empty, "empty")
            return
        self._enqueue(it, reason)

    def _enqueue(self, it: InteractionRec, reason: str, match: bool = True) -> None:
        q = it.queue
        spec = q.spec
        if reason not in ("returned", "rebuilt"):
            it.original_position = q.waiting + 1
        waited = self.now - it.queue_joined_at
        step = 0
        for n, s in enumerate(spec.steps, start=1):
            if waited >= s.after_s:
                step = n
        it.step = step
        it.stage = Stage.WAITING
        it.join += 1
        self._place(it)
        if step < len(spec.steps):
            self._timer(it.queue_joined_at + spec.steps[step].after_s, "step", it.id, it.join)
        if spec.max_wait_s is not None:
            self._timer(it.queue_joined_at + spec.max_wait_s, "max_wait", it.id, it.join)
        self._out.append(
            cmd.InteractionQueued(
                it.id, spec.name, spec.channel, step, reason, self.now, it.original_position
            )
        )
        if match:
            self._match_interaction(it, "arrival" if reason == "arrived" else reason)

    def _place(self, it: InteractionRec) -> None:
        bucket = cast(Bucket, it.queue.buckets[it.step])
        it.token += 1
        bucket.push(it)
        it.bucket = bucket
        it.queue.waiting += 1

    def _offer_direct(self, a: AgentRec, channels: list[Channel]) -> bool:
        """Work transferred to this agent by name goes before anything waiting in queues."""
        for iid in self.direct.get(a.id, ()):
            it = self.interactions.get(iid)
            if it is not None and it.stage is Stage.WAITING and it.channel in channels:
                bucket = cast(Bucket, it.queue.buckets[0])
                key = bucket.entry_key(it)
                self._offer(it, a, "direct", bucket, a.id, key, [], [], 1)
                return True
        return False

    def _enqueue_direct(self, it: InteractionRec, agent: AgentRec) -> None:
        spec = it.queue.spec
        it.stage = Stage.WAITING
        it.step = 0
        it.join += 1
        it.target_agent = agent.id
        self.direct.setdefault(agent.id, []).append(it.id)
        self._timer(self.now + self.centre.routing.direct_fallback_s, "direct", it.id, it.join)
        self._out.append(
            cmd.InteractionQueued(it.id, spec.name, spec.channel, 0, "transferred_to_agent", self.now)
        )
        channels = agent.free_channels()
        if it.channel in channels:
            self._offer_direct(agent, channels)

    def _leave_bucket(self, it: InteractionRec) -> None:
        if it.target_agent is not None:
            waiting_for = self.direct.get(it.target_agent, [])
            if it.id in waiting_for:
                waiting_for.remove(it.id)
                if not waiting_for:
                    del self.direct[it.target_agent]
            it.target_agent = None
            return
        bucket = cast(Bucket | None, it.bucket)
        if bucket is None:
            return
        it.token += 1
        bucket.live -= 1
        bucket.queue.waiting -= 1
        it.bucket = None

    def _escalate(self, it: InteractionRec) -> None:
        spec = it.queue.spec
        self._leave_bucket(it)
        it.step += 1
        self._place(it)
        if it.step < len(spec.steps):
            self._timer(it.queue_joined_at + spec.steps[it.step].after_s, "step", it.id, it.join)
        self._out.append(
            cmd.InteractionQueued(it.id, spec.name, spec.channel, it.step, "escalated", self.now)
        )
        self._match_interaction(it, "escalation")

    def _exit(self, it: InteractionRec, target: ExitTarget | None, reason: str) -> None:
        self._leave_bucket(it)
        spec = it.queue.spec
        if target is not None and target.kind is ExitKind.QUEUE and it.hops < MAX_OVERFLOW_HOPS:
            dest = self.queues.get(target.value)
            if dest is not None:
                self._finish(it, "overflowed", reason, keep=True)
                it.hops += 1
                it.queue = dest
                it.queue_joined_at = self.now
                it.offered_at = it.answered_at = None
                it.agent_id = None
                it.misses = 0
                self._join(it, "overflowed")
                return
        if target is not None and target.kind is ExitKind.QUEUE:
            target, reason = None, "overflow_loop"
        self._out.append(cmd.ExitInteraction(it.id, spec.name, target, reason))
        outcome = {"max_wait": "timed_out"}.get(reason, reason)
        self._finish(it, outcome, "")

    def _finish(self, it: InteractionRec, outcome: str, disposition: str, keep: bool = False) -> None:
        now = self.now
        wait_end = it.answered_at if it.answered_at is not None else now
        talk = now - it.answered_at if it.answered_at is not None else 0.0
        self._out.append(
            cmd.InteractionFinished(
                interaction_id=it.id,
                queue=it.queue.name,
                channel=it.channel,
                caller=it.caller,
                outcome=outcome,
                agent_id=it.agent_id if it.answered_at is not None else None,
                enqueued_at=it.queue_joined_at,
                offered_at=it.offered_at,
                answered_at=it.answered_at,
                ended_at=now,
                wait_s=max(0.0, wait_end - it.queue_joined_at),
                talk_s=max(0.0, talk),
                step=it.step,
                misses=it.misses,
                disposition=disposition,
                explanation=it.explanation,
                original_position=it.original_position,
            )
        )
        if not keep:
            it.stage = Stage.DONE
            self.interactions.pop(it.id, None)

    def _interaction(self, event: object, iid: str) -> InteractionRec | None:
        it = self.interactions.get(iid)
        if it is None:
            self._out.append(cmd.EventRejected(event, f"unknown interaction {iid!r}"))
        return it

    def _on_abandon(self, e: ev.InteractionAbandoned) -> None:
        it = self._interaction(e, e.interaction_id)
        if it is None:
            return
        if it.stage is Stage.CONNECTED:
            self._end_connected(it, "caller_hangup")
            return
        if it.stage is Stage.OFFERED and it.offer is not None:
            offer = it.offer
            self._out.append(cmd.CancelOffer(offer.offer_id, it.id, offer.agent_id, "caller_gone"))
            self._close_offer(offer)
            a = self.agents.get(offer.agent_id)
            self._finish(it, "abandoned_ringing", "")
            if a is not None:
                self._publish(a)
                self._refresh(a, "agent_free")
            return
        self._leave_bucket(it)
        self._finish(it, "abandoned", "")

    def _on_accept(self, e: ev.OfferAccepted) -> None:
        it = self.interactions.get(e.interaction_id)
        offer = it.offer if it is not None else None
        if it is None or offer is None or offer.agent_id != e.agent_id:
            self._out.append(cmd.EventRejected(e, "no such pending offer"))
            return
        a = self.agents[e.agent_id]
        self._close_offer(offer)
        it.stage = Stage.CONNECTED
        it.answered_at = self.now
        a.connected[it.id] = offer.channel
        a.load[offer.channel] = a.load.get(offer.channel, 0) + 1
        a.misses = 0
        a.handled += 1
        self._out.append(
            cmd.InteractionConnected(
                it.id, a.id, it.queue.name, offer.channel, self.now - it.queue_joined_at, self.now
            )
        )
        self._publish(a)
        self._refresh(a, "agent_free")

    def _close_offer(self, offer: OfferRec) -> None:
        self.offers.pop(offer.offer_id, None)
        a = self.agents.get(offer.agent_id)
        if a is not None and a.offer is offer:
            a.offer = None
        it = self.interactions.get(offer.interaction_id)
        if it is not None and it.offer is offer:
            it.offer = None

    def _on_decline(self, e: ev.OfferDeclined) -> None:
        it = self.interactions.get(e.interaction_id)
        offer = it.offer if it is not None else None
        if it is None or offer is None or offer.agent_id != e.agent_id:
            self._out.append(cmd.EventRejected(e, "no such pending offer"))
            return
        self._declined(offer, e.reason)

    def _declined(self, offer: OfferRec, reason: str) -> None:
        a = self.agents.get(offer.agent_id)
        self._return_offer(offer, miss=True)
        if a is None:
            return
        a.misses += 1
        routing = self.centre.routing
        if a.misses >= routing.max_misses and a.presence is Presence.READY:
            self._pause(a, routing.miss_pause_reason, None)
        else:
            self._publish(a)
        self._refresh(a, "agent_free")

    def _return_offer(self, offer: OfferRec, miss: bool) -> None:
        """The interaction goes back to exactly the place it had."""
        self._close_offer(offer)
        it = self.interactions.get(offer.interaction_id)
        if it is None:
            return
        it.agent_id = None
        it.target_agent = None
        if miss:
            it.misses += 1
            until = self.now + self.centre.routing.miss_exclusion_s
            it.excluded[offer.agent_id] = until
        spec = it.queue.spec
        if spec.max_wait_s is not None and self.now >= it.queue_joined_at + spec.max_wait_s:
            it.stage = Stage.WAITING
            self._exit(it, spec.on_max_wait, "max_wait")
            return
        self._enqueue(it, "returned", match=False)
        if miss:
            self._timer(it.excluded[offer.agent_id], "retry", it.id, it.seq)
        self._match_interaction(it, "returned")

    def _on_end(self, e: ev.InteractionEnded) -> None:
        it = self._interaction(e, e.interaction_id)
        if it is None:
            return
        if it.stage is Stage.CONNECTED:
            self._end_connected(it, e.disposition)
        elif it.stage is Stage.OFFERED:
            self._on_abandon(ev.InteractionAbandoned(it.id))
        else:
            self._leave_bucket(it)
            self._finish(it, "abandoned", e.disposition)

    def _end_connected(self, it: InteractionRec, disposition: str) -> None:
        a = self.agents.get(it.agent_id or "")
        self._finish(it, "answered", disposition)
        if a is None:
            return
        ch = a.connected.pop(it.id, None)
        if ch is None:
            return
        wrap = it.queue.spec.wrapup_s
        if wrap > 0:
            # The slot stays held through wrap-up; other channels may still be free.
            a.wrapping[it.id] = ch
            self._timer(self.now + wrap, "wrap", f"{a.id}\x00{it.id}", 0)
        else:
            self._release(a, ch)
        self._publish(a)
        self._refresh(a, "agent_free")

    def _on_move(self, e: ev.InteractionMoved | ev.InteractionTransferred) -> None:
        it = self._interaction(e, e.interaction_id)
        if it is None:
            return
        dest = self.queues.get(e.queue)
        if dest is None:
            self._out.append(cmd.EventRejected(e, f"unknown queue {e.queue!r}"))
            return
        if isinstance(e, ev.InteractionMoved):
            if it.stage is not Stage.WAITING:
                self._out.append(cmd.EventRejected(e, f"interaction {it.id} is not waiting"))
                return
            if dest.spec.channel is not it.channel:
                self._out.append(cmd.EventRejected(e, f"queue {dest.name} takes {dest.spec.channel}"))
                return
            self._leave_bucket(it)
            self._finish(it, "moved", "", keep=True)
            it.queue = dest
            it.queue_joined_at = self.now
            it.offered_at = None
            self._enqueue(it, "moved")
            return
        if it.stage is not Stage.CONNECTED:
            self._out.append(cmd.EventRejected(e, f"interaction {it.id} is not connected"))
            return
        if dest.spec.channel is not it.channel:
            self._out.append(cmd.EventRejected(e, f"queue {dest.name} takes {dest.spec.channel}"))
            return
        target = None
        if e.agent_id is not None:
            target = self.agents.get(e.agent_id)
            if target is None:
                self._out.append(cmd.EventRejected(e, f"unknown agent {e.agent_id!r}"))
                return
            if target.id == it.agent_id:
                self._out.append(cmd.EventRejected(e, f"{target.id} already holds {it.id}"))
                return
            if target.profile.capacity.get(it.channel, 0) < 1:
                self._out.append(cmd.EventRejected(e, f"agent {target.id} takes no {it.channel}"))
                return
        # A transfer ends the agent's part like a hang-up, then the interaction waits anew.
        a = self.agents.get(it.agent_id or "")
        self._finish(it, "transferred", "", keep=True)
        if a is not None and a.connected.pop(it.id, None) is not None:
            self._release(a, it.channel)
            self._publish(a)
        it.queue = dest
        it.queue_joined_at = self.now
        it.order_time = self.now
        it.offered_at = it.answered_at = None
        it.agent_id = None
        it.excluded.clear()
        # The freed agent first takes what already waits (the transferred one is now the
        # newest arrival); only then does the transferred interaction look for an agent.
        if a is not None:
            self._refresh(a, "agent_free")
        if target is not None:
            self._enqueue_direct(it, target)
        else:
            self._join(it, "transferred")

    def _on_queue_changed(self, e: ev.QueueChanged) -> None:
        if e.queue.name not in self.queues:
            self._out.append(cmd.EventRejected(e, f"unknown queue {e.queue.name!r}"))
            return
        queues = tuple(e.queue if q.name == e.queue.name else q for q in self.centre.queues)
        self._rebuild_checked(e, replace(self.centre, queues=queues))

    def _on_centre(self, e: ev.CentreReplaced) -> None:
        self._rebuild_checked(e, e.centre)

    def _rebuild_checked(self, e: object, centre: CentreSpec) -> None:
        try:
            for q in centre.queues:
                parse(q.requirement, centre.skills)
                for s in q.steps:
                    parse(s.requirement, centre.skills)
        except ValueError as err:
            self._out.append(cmd.EventRejected(e, str(err)))
            return
        self._build(centre)

    def _on_tick(self, e: ev.Tick) -> None:
        return

    _handlers: ClassVar[dict[type, Callable[[Any, Any], None]]] = {}

    # ------------------------------------------------------------------ views

    def position(self, interaction_id: str) -> int | None:
        """1-based place in its queue, counting those that will be served before it."""
        it = self.interactions.get(interaction_id)
        if it is None or it.stage is not Stage.WAITING or it.bucket is None:
            return None
        mine = cast(Bucket, it.bucket).entry_key(it)
        ahead = 0
        for b in it.queue.buckets:
            bucket = cast(Bucket, b)
            ahead += sum(1 for e in bucket.valid_sorted(self.interactions) if e[0] < mine)
        return ahead + 1

    def waiting(self) -> Iterable[InteractionRec]:
        return (i for i in self.interactions.values() if i.stage is Stage.WAITING)

    def agent_state(self, agent_id: str) -> AgentState | None:
        a = self.agents.get(agent_id)
        return a.state if a is not None else None


Router._handlers = {
    ev.AgentLoggedIn: Router._on_login,
    ev.AgentLoggedOut: Router._on_logout,
    ev.AgentPaused: Router._on_pause,
    ev.AgentUnpaused: Router._on_unpause,
    ev.AgentDeviceChanged: Router._on_device,
    ev.AgentSkillsChanged: Router._on_skills,
    ev.AgentWrapUpDone: Router._on_wrap_done,
    ev.AgentSessionRestored: Router._on_restore,
    ev.InteractionArrived: Router._on_arrival,
    ev.InteractionAbandoned: Router._on_abandon,
    ev.OfferAccepted: Router._on_accept,
    ev.OfferDeclined: Router._on_decline,
    ev.InteractionEnded: Router._on_end,
    ev.InteractionMoved: Router._on_move,
    ev.InteractionTransferred: Router._on_move,
    ev.QueueChanged: Router._on_queue_changed,
    ev.CentreReplaced: Router._on_centre,
    ev.Tick: Router._on_tick,
}
