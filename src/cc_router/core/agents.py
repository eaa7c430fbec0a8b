"""Agents: logging in and out, pauses, their phone, their skills, wrap-up."""

from __future__ import annotations

from dataclasses import replace

from cc_router.core import commands as cmd
from cc_router.core import events as ev
from cc_router.core.expr import evaluate
from cc_router.core.interactions import Interactions
from cc_router.core.records import AgentRec
from cc_router.core.spec import Channel
from cc_router.core.timers import Timer
from cc_router.core.vocabulary import (
    CancelReason,
    ExitReason,
    Presence,
    RejectCode,
    Stage,
    TimerKind,
    Trigger,
)

# Enum members are read through EnumType's attribute hook, several times slower than a
# module global; the hot path compares against these instead.
_READY, _LOGGED_OUT, _PAUSED = Presence.READY, Presence.LOGGED_OUT, Presence.PAUSED
_AGENT_FREE = Trigger.AGENT_FREE


class Agents(Interactions):
    def _agent(self, event: object, agent_id: str) -> AgentRec | None:
        a = self.agents.get(agent_id)
        if a is None:
            self._reject(event, RejectCode.UNKNOWN_AGENT, f"unknown agent {agent_id!r}")
        return a

    def _ready(self, a: AgentRec) -> None:
        """Back to ready from a pause; `pause_token` tells a pause timer it no longer applies."""
        a.presence = _READY
        a.pause_reason = ""
        a.idle_since = self.now

    def _on_login(self, e: ev.AgentLoggedIn) -> None:
        a = self._agent(e, e.agent_id)
        if a is None or a.presence is not _LOGGED_OUT:
            return
        a.presence = _READY
        a.misses = 0
        a.idle_since = self.now
        for pools in a.pools.values():
            for p in pools:
                p.logged_in += 1
        self._publish(a)
        self._refresh(a, _AGENT_FREE)

    def _on_restore(self, e: ev.AgentSessionRestored) -> None:
        a = self._agent(e, e.agent_id)
        if a is None:
            return
        if a.presence is not _LOGGED_OUT:
            self._reject(e, RejectCode.LOGGED_IN, f"agent {a.id} is already logged in")
            return
        since = min(e.since, self.now)
        a.presence = _READY
        a.idle_since = since
        for pools in a.pools.values():
            for p in pools:
                p.logged_in += 1
        if e.paused:
            a.presence = _PAUSED
            a.pause_reason = e.reason
            a.pause_token += 1
            if e.max_s is not None and e.max_s > 0:
                # Already over: the timer fires on the next event or tick.
                self._timer(since + e.max_s, Timer(TimerKind.PAUSE, a.id, a.pause_token))
        self._publish(a, since)
        self._refresh(a, _AGENT_FREE)

    def _on_logout(self, e: ev.AgentLoggedOut) -> None:
        a = self._agent(e, e.agent_id)
        if a is not None:
            self._logout(a)

    def _logout(self, a: AgentRec) -> None:
        if a.presence is _LOGGED_OUT:
            return
        a.presence = _LOGGED_OUT
        a.pause_reason = ""
        for pools in a.pools.values():
            for p in pools:
                p.logged_in -= 1
        if a.offer is not None:
            offer = a.offer
            self._out.append(
                cmd.CancelOffer(offer.offer_id, offer.interaction_id, a.id, CancelReason.AGENT_LOGGED_OUT)
            )
            self._return_offer(offer, miss=False)
        a.token += 1
        self._publish(a)
        self._leave_if_empty(a)

    def _on_pause(self, e: ev.AgentPaused) -> None:
        a = self._agent(e, e.agent_id)
        if a is None:
            return
        if a.presence is _LOGGED_OUT:
            self._reject(e, RejectCode.LOGGED_OUT, f"agent {a.id} is logged out")
            return
        self._pause(a, e.reason, e.max_s)

    def _on_unpause(self, e: ev.AgentUnpaused) -> None:
        a = self._agent(e, e.agent_id)
        if a is None or a.presence is not _PAUSED:
            return
        self._ready(a)
        a.pause_token += 1
        a.misses = 0
        self._publish(a)
        self._refresh(a, _AGENT_FREE)

    def _on_device(self, e: ev.AgentDeviceChanged) -> None:
        a = self._agent(e, e.agent_id)
        if a is None or a.device_in_use == e.in_use:
            return
        a.device_in_use = e.in_use
        if not e.in_use:
            a.idle_since = max(a.idle_since, self.now)
        self._publish(a)
        self._refresh(a, _AGENT_FREE)

    def _on_node(self, e: ev.NodeDown | ev.NodeUp) -> None:
        """Agents whose phones are on the node: unavailable while it is down, then back."""
        down = e.node if isinstance(e, ev.NodeDown) else ""
        if down:
            self.topology.nodes_down.add(down)
        else:
            self.topology.nodes_down.discard(e.node)
        node_of = self.topology.agent_node
        affected = [a for a in self.agents.values() if node_of(a) == e.node and a.unreachable != down]
        # All first: a call given back below must not be offered to another agent there.
        for a in affected:
            a.unreachable = down
            a.token += 1
        for a in affected:
            offer = a.offer
            if down and offer is not None and offer.channel is Channel.VOICE:
                self._out.append(
                    cmd.CancelOffer(offer.offer_id, offer.interaction_id, a.id, CancelReason.NODE_DOWN)
                )
                self._return_offer(offer, miss=False)
            if not down:
                a.idle_since = max(a.idle_since, self.now)
            self._publish(a)
            if not down:
                self._refresh(a, _AGENT_FREE)
        self._callers_of_node(e.node, down)

    def _callers_of_node(self, node: str, down: str) -> None:
        """Callers held by the node: while it is down no agent leg can be placed for them
        (an offer ringing an agent elsewhere is given back, not the agent's miss); back,
        they are matched again in arrival order."""
        node_of = self.topology.caller_node
        if down:
            for offer in list(self.offers.values()):
                it = self.interactions.get(offer.interaction_id)
                if it is None or offer.channel is not Channel.VOICE or node_of(it) != node:
                    continue
                self._out.append(
                    cmd.CancelOffer(offer.offer_id, it.id, offer.agent_id, CancelReason.NODE_DOWN)
                )
                self._return_offer(offer, miss=False)
                a = self.agents.get(offer.agent_id)
                if a is not None:
                    self._publish(a)
                    self._refresh(a, _AGENT_FREE)
            return
        waiting = sorted(
            (i for i in self.interactions.values() if i.stage is Stage.WAITING and node_of(i) == node),
            key=lambda i: (i.order_time, i.seq),
        )
        for it in waiting:
            if it.stage is Stage.WAITING and it.bucket is not None:
                self._match_interaction(it, Trigger.REBALANCE)

    def _on_skills(self, e: ev.AgentSkillsChanged) -> None:
        a = self._agent(e, e.agent_id)
        if a is None:
            return
        unknown = sorted(s for s in e.skills if s not in self.centre.skills)
        bad = sorted(s for s, lvl in e.skills.items() if not isinstance(lvl, int) or lvl < 0)
        if unknown or bad:
            why = f"unknown skill {', '.join(unknown)}" if unknown else f"bad level for {bad}"
            self._reject(e, RejectCode.BAD_SKILLS, why)
            return
        spec = replace(a.spec, skills=dict(e.skills))
        agents = tuple(spec if s.id == a.id else s for s in self.centre.agents)
        self.centre = replace(self.centre, agents=agents)
        a.spec = spec
        logged_in = a.presence is not _LOGGED_OUT
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
        self._index_buckets(a)
        self._refresh(a, _AGENT_FREE)

    def _index_buckets(self, a: AgentRec) -> None:
        """The buckets an agent serves: those behind every pool it is a member of."""
        for q in self.queues.values():
            for bucket in q.buckets:
                if a.id in bucket.pool.members:
                    a.buckets.setdefault(bucket.channel, []).append(bucket)

    def _on_wrap_done(self, e: ev.AgentWrapUpDone) -> None:
        a = self._agent(e, e.agent_id)
        if a is None or not a.wrapping:
            return
        for iid in list(a.wrapping):
            self._end_wrap(a, iid)
        self._refresh(a, _AGENT_FREE)

    def _end_wrap(self, a: AgentRec, iid: str) -> None:
        ch = a.wrapping.pop(iid)
        self._release(a, ch)
        self._out.append(cmd.WrapUpEnded(a.id, iid, ch, self.now))
        self._publish(a)

    def _leave_if_empty(self, a: AgentRec) -> None:
        """Callers in a queue nobody can serve any more leave by its empty exit."""
        emptied = {
            q.name
            for q in self.queues.values()
            if q.spec.on_empty is not None
            and q.waiting
            and (widest := q.buckets[-1].pool).logged_in == 0
            and a.id in widest.members
        }
        if not emptied:
            return
        for it in [i for i in self.interactions.values() if i.queue.name in emptied]:
            if it.stage is Stage.WAITING:
                self._exit(it, it.queue.spec.on_empty, ExitReason.EMPTY)
