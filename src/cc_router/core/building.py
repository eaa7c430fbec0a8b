"""Building: the router's records and indexes from a centre spec, and rebuilding on change.

A rebuild keeps every agent's and interaction's state; what waits is placed again under
the new rules with its seniority, and everyone is matched again.
"""

from __future__ import annotations

import heapq
from dataclasses import replace

from cc_router.core import events as ev
from cc_router.core.adoption import Adoption
from cc_router.core.callback_routing import CallbackRouting
from cc_router.core.expr import Node, SkillIndex, any_of, parse
from cc_router.core.pools import Bucket, Pool
from cc_router.core.records import AgentRec, QueueRec
from cc_router.core.spec import CentreSpec, ProfileSpec, QueueSpec, Strategy
from cc_router.core.timers import KINDS
from cc_router.core.vocabulary import ExitReason, Presence, QueueReason, RejectCode, Stage, TimerKind, Trigger

PLACEMENT_TIMERS = frozenset({TimerKind.STEP, TimerKind.MAX_WAIT})
"""Timers a rebuild sets again for everything it places again."""


class Building(Adoption, CallbackRouting):
    def _build(self, centre: CentreSpec, first: bool = False) -> None:
        self.centre = centre
        # Its per-node heaps belong to the pools made below; trunk use is kept.
        self.topology = self.topology.rebuilt(centre.topology)
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
            for bucket in q.buckets:
                for aid in bucket.pool.members:
                    self.agents[aid].buckets.setdefault(bucket.channel, []).append(bucket)

        if first:
            return
        # Everything waiting is placed again under the new rules, keeping its seniority.
        self._timers[:] = [t for t in self._timers if KINDS[t[2]] not in PLACEMENT_TIMERS]
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
                self._exit(it, None, ExitReason.QUEUE_REMOVED)
                continue
            it.queue = q2
            self._enqueue(it, QueueReason.REBUILT, match=False)
        for it in self.interactions.values():
            if it.stage is not Stage.WAITING and it.queue.name in self.queues:
                it.queue = self.queues[it.queue.name]
        for gone in gone_agents:
            self._logout(gone)
            if not (gone.connected or gone.wrapping):
                self.agents.pop(gone.id, None)
        for a in list(self.agents.values()):
            self._refresh(a, Trigger.REBALANCE)
        for it in waiting:
            if it.stage is Stage.WAITING:
                self._match_interaction(it, Trigger.REBALANCE)

    def _pool(self, qspec: QueueSpec, node: Node, index: SkillIndex) -> Pool:
        scope = qspec.name if qspec.strategy is Strategy.ROUND_ROBIN else ""
        key = (qspec.channel, str(node), qspec.strategy, scope)
        pool = self.pools.get(key)
        if pool is None:
            pool = Pool(qspec.channel, node, qspec.strategy, scope)
            pool.members = index.members(node)
            self.pools[key] = pool
        return pool

    def _on_queue_changed(self, e: ev.QueueChanged) -> None:
        if e.queue.name not in self.queues:
            self._reject(e, RejectCode.UNKNOWN_QUEUE, f"unknown queue {e.queue.name!r}")
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
            self._reject(e, RejectCode.BAD_CONFIG, str(err))
            return
        self._build(centre)
