"""Matching: the two routing questions, and the offer that answers them.

- An interaction needs an agent (arrival, escalation, return): take the best entry of the
  pool of free agents behind its queue's current step.
- An agent becomes free: take the best head among the buckets it is eligible for, in one
  order across every queue (priority, then seniority), so no queue is served by luck.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from heapq import heappush

from cc_router.core import commands as cmd
from cc_router.core.pools import AgentEntry, Bucket, InteractionEntry
from cc_router.core.records import AgentRec, InteractionRec, OfferRec
from cc_router.core.spec import Channel
from cc_router.core.state import RouterState
from cc_router.core.timers import Timer
from cc_router.core.vocabulary import RemoteChoice, Stage, TimerKind, Trigger

CANDIDATES_SHOWN = 3

Scored = list[tuple[str, tuple[float, ...]]]
"""(agent or interaction id, ordering key), best first."""
Excluded = list[tuple[str, str]]
"""(agent or interaction id, why it was skipped)."""

# Enum members are read through EnumType's attribute hook, several times slower than a
# module global; the hot path compares against these instead.
_WAITING, _OFFERED, _OFFER_TIMER = Stage.WAITING, Stage.OFFERED, TimerKind.OFFER


@dataclass(slots=True, eq=False)
class Candidate:
    """A match found: the pair to be offered, and what was seen on the way to it."""

    interaction: InteractionRec
    agent: AgentRec
    bucket: Bucket
    chosen: str
    """The id that won: the agent when an interaction looked, the interaction when an agent did."""
    score: tuple[float, ...]
    shown: Scored
    excluded: Excluded
    available: int
    remote: RemoteChoice | None = None
    route: str = ""


class Matching(RouterState):
    def _refresh(self, a: AgentRec, trigger: Trigger) -> None:
        """Re-index an agent after any change: offer it work or put it in its pools."""
        a.token += 1
        channels = a.free_channels()
        if not channels:
            return
        if a.id in self.direct and self._offer_direct(a, channels):
            return
        found = self._find_interaction(a, channels)
        if found is not None:
            self._offer(found, trigger)
            return
        self._make_available(a, channels)

    def _make_available(self, a: AgentRec, channels: list[Channel]) -> None:
        # One sequence number for all of this agent's entries: within each pool, entries
        # still follow the order they were pushed in, which is all it breaks ties by.
        self._seq += 1
        seq = self._seq
        rng = self.rng
        shared: dict[tuple[object, ...], AgentEntry] = {}
        topology = self.topology if self.topology.active else None
        for ch in channels:
            for pool in a.pools.get(ch, ()):
                share = pool.shared_key
                if share is None:
                    entry = pool.entry(a, rng, seq)
                else:
                    found = shared.get(share)
                    if found is None:
                        found = shared[share] = pool.entry(a, rng, seq)
                    entry = found
                heap = pool.heap
                heappush(heap, entry)
                if topology is not None:
                    topology.push(pool, a, entry, self.agents)
                if len(heap) > 2 * len(pool.members) + 32:
                    pool.compact(self.agents)

    def _find_interaction(self, a: AgentRec, channels: list[Channel]) -> Candidate | None:
        inters = self.interactions
        best: InteractionEntry | None = None
        best_bucket: Bucket | None = None
        heads: list[InteractionEntry] = []
        excluded: Excluded = []
        waiting = 0
        topology = self.topology if self.topology.active else None
        for ch in channels:
            for bucket in a.buckets.get(ch, ()):
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
                    it = inters[top[1]]
                if topology is not None and (why := topology.refusal(it, a, inters)) is not None:
                    excluded.append((it.id, why))
                    alt = self._first_reachable(bucket, a)
                    if alt is None:
                        continue
                    top = alt
                heads.append(top)
                if best is None or top[0] < best[0]:
                    best, best_bucket = top, bucket
        if best is None or best_bucket is None:
            return None
        # Keys never tie (the arrival sequence number is part of each), so sorting whole
        # entries orders them exactly as sorting by key alone would.
        heads.sort()
        shown = [(e[1], e[0]) for e in heads[:CANDIDATES_SHOWN]]
        it = inters[best[1]]
        found = Candidate(it, a, best_bucket, it.id, best[0], shown, excluded, waiting)
        if topology is not None and (route := topology.route(it, a)):
            found.remote, found.route = RemoteChoice.AGENT_FREED, route
        return found

    def _first_allowed(self, bucket: Bucket, agent_id: str) -> InteractionEntry | None:
        for entry in bucket.valid_sorted(self.interactions):
            if not self._is_excluded(self.interactions[entry[1]], agent_id):
                return entry
        return None

    def _first_reachable(self, bucket: Bucket, a: AgentRec) -> InteractionEntry | None:
        """The first waiting interaction the agent may take across nodes (slow path)."""
        inters = self.interactions
        for entry in bucket.valid_sorted(inters):
            it = inters[entry[1]]
            if not self._is_excluded(it, a.id) and self.topology.refusal(it, a, inters) is None:
                return entry
        return None

    def _find_agent(self, it: InteractionRec, bucket: Bucket) -> Candidate | None:
        pool = bucket.pool
        heap = pool.heap
        agents = self.agents
        if self.topology.active and self.topology.caller_node(it):
            return self._find_agent_by_node(it, bucket)
        set_aside = []
        excluded: Excluded = []
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
        # The k smallest entries of a binary heap lie in its first 2**k - 1 slots; entries
        # never tie (each has its own sequence number), so sorting those few gives the
        # same order as heapq.nsmallest at a fraction of its cost.
        shown = [
            (e[2], e[0])
            for e in sorted(heap[:15])[: CANDIDATES_SHOWN + 1]
            if (x := agents.get(e[2])) is not None and x.token == e[3]
        ][:CANDIDATES_SHOWN]
        return Candidate(it, chosen, bucket, chosen.id, score, shown, excluded, len(heap))

    def _find_agent_by_node(self, it: InteractionRec, bucket: Bucket) -> Candidate | None:
        """`_find_agent` across Asterisk nodes: trunks and the queue's locality count."""
        pool = bucket.pool
        agents = self.agents
        choice = self.topology.choose(
            it,
            pool,
            agents,
            self.interactions,
            lambda a: bool(it.excluded) and self._is_excluded(it, a.id),
        )
        if choice is None:
            return None
        heap = pool.heap
        shown = [
            (e[2], e[0])
            for e in heapq.nsmallest(CANDIDATES_SHOWN + 1, heap[:15])
            if (x := agents.get(e[2])) is not None and x.token == e[3]
        ][:CANDIDATES_SHOWN]
        a = choice.agent
        return Candidate(
            it, a, bucket, a.id, choice.score, shown, choice.excluded, len(heap), choice.remote, choice.route
        )

    def _match_interaction(self, it: InteractionRec, trigger: Trigger) -> None:
        bucket = it.bucket
        if bucket is None:
            return  # waiting for one named agent: only that agent's refresh offers it
        found = self._find_agent(it, bucket)
        if found is not None:
            self._offer(found, trigger)

    def _offer_direct(self, a: AgentRec, channels: list[Channel]) -> bool:
        """Work transferred to this agent by name goes before anything waiting in queues."""
        for iid in self.direct.get(a.id, ()):
            it = self.interactions.get(iid)
            if it is not None and it.stage is Stage.WAITING and it.channel in channels:
                bucket = it.queue.buckets[0]
                self._offer(Candidate(it, a, bucket, a.id, bucket.entry_key(it), [], [], 1), Trigger.DIRECT)
                return True
        return False

    def _offer(self, found: Candidate, trigger: Trigger) -> None:
        it, a, chosen, score = found.interaction, found.agent, found.chosen, found.score
        spec = it.queue.spec
        pool = found.bucket.pool
        candidates = found.shown
        if not candidates or candidates[0][0] != chosen:
            candidates = [(chosen, score), *candidates][:CANDIDATES_SHOWN]
        # Also a direct offer (a transfer to a named agent) may cross a trunk.
        route = found.route or (self.topology.route(it, a) if self.topology.active else "")
        explanation = cmd.Explanation(
            trigger=trigger,
            queue=spec.name,
            strategy=pool.strategy_text,
            step=it.step,
            requirement=pool.requirement_text,
            chosen=chosen,
            score=tuple(score),
            candidates=tuple(candidates),
            excluded=tuple(found.excluded),
            available=found.available,
            remote=found.remote,
            route=route,
        )
        self._leave_bucket(it)
        self._offer_seq += 1
        offer = OfferRec(f"o{self._offer_seq}", it.id, a.id, spec.channel, self.now, explanation)
        self.offers[offer.offer_id] = offer
        a.offer = offer
        a.token += 1
        it.offer = offer
        it.stage = _OFFERED
        it.agent_id = a.id
        it.explanation = explanation
        if it.offered_at is None:
            it.offered_at = self.now
        if route:
            self.topology.taken(it, a)
        pool.remember_offer(a.id)
        timeout = spec.ring_timeout_s
        self._timer(
            self.now + timeout + self.centre.routing.offer_grace_s, Timer(_OFFER_TIMER, offer.offer_id)
        )
        self._out.append(
            cmd.Offer(offer.offer_id, it.id, a.id, spec.name, spec.channel, timeout, explanation)
        )
        self._publish(a)
