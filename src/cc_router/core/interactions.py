"""Interactions: arriving, joining and leaving queues, offers taken or not, the end."""

from __future__ import annotations

from cc_router.core import commands as cmd
from cc_router.core import events as ev
from cc_router.core.matching import Matching
from cc_router.core.records import AgentRec, InteractionRec, OfferRec
from cc_router.core.spec import ExitKind, ExitTarget, trunk_key
from cc_router.core.timers import Timer
from cc_router.core.vocabulary import (
    CALLER_HANGUP,
    EXIT_OUTCOME,
    QUEUED_TRIGGER,
    CancelReason,
    ExitReason,
    Outcome,
    Presence,
    QueueReason,
    RejectCode,
    Stage,
    TimerKind,
    Trigger,
)

MAX_OVERFLOW_HOPS = 8

# Enum members are read through EnumType's attribute hook, several times slower than a
# module global; the hot path compares against these instead.
_WAITING, _CONNECTED, _OFFERED = Stage.WAITING, Stage.CONNECTED, Stage.OFFERED
_RETURNED, _REBUILT = QueueReason.RETURNED, QueueReason.REBUILT
_STEP_TIMER, _MAX_WAIT_TIMER = TimerKind.STEP, TimerKind.MAX_WAIT
_AGENT_FREE, _ARRIVED, _ARRIVAL = Trigger.AGENT_FREE, QueueReason.ARRIVED, Trigger.ARRIVAL


class Interactions(Matching):
    def _interaction(self, event: object, iid: str) -> InteractionRec | None:
        it = self.interactions.get(iid)
        if it is None:
            self._reject(event, RejectCode.UNKNOWN_INTERACTION, f"unknown interaction {iid!r}")
        return it

    def _on_arrival(self, e: ev.InteractionArrived) -> None:
        q = self.queues.get(e.queue)
        if q is None:
            self._reject(e, RejectCode.UNKNOWN_QUEUE, f"unknown queue {e.queue!r}")
            return
        if e.interaction_id in self.interactions:
            self._reject(e, RejectCode.ALREADY_KNOWN, f"interaction {e.interaction_id!r} already known")
            return
        since = self.now if e.since is None else min(e.since, self.now)
        it = self._new_interaction(e, q, since)
        preferred = self.agents.get(e.agent_id) if e.agent_id is not None else None
        if (
            preferred is not None
            and preferred.presence is not Presence.LOGGED_OUT
            and preferred.profile.capacity.get(it.channel, 0) >= 1
        ):
            self._enqueue_direct(it, preferred, e.agent_wait_s, QueueReason.PREFERRED_AGENT)
            return
        self._join(it, QueueReason.ARRIVED)

    def _join(self, it: InteractionRec, reason: QueueReason) -> None:
        """Put `it` into its queue, honouring the queue's entry exits."""
        q = it.queue
        spec = q.spec
        if spec.max_length is not None and q.waiting >= spec.max_length:
            self._exit(it, spec.on_max_length, ExitReason.MAX_LENGTH)
            return
        if spec.on_empty is not None and q.buckets[-1].pool.logged_in == 0:
            self._exit(it, spec.on_empty, ExitReason.EMPTY)
            return
        self._enqueue(it, reason)

    def _enqueue(self, it: InteractionRec, reason: QueueReason, match: bool = True) -> None:
        q = it.queue
        spec = q.spec
        if reason is not _RETURNED and reason is not _REBUILT:
            it.original_position = q.waiting + 1
        waited = self.now - it.queue_joined_at
        step = 0
        for n, s in enumerate(spec.steps, start=1):
            if waited >= s.after_s:
                step = n
        it.step = step
        it.stage = _WAITING
        it.join += 1
        self._place(it)
        if step < len(spec.steps):
            self._timer(it.queue_joined_at + spec.steps[step].after_s, Timer(_STEP_TIMER, it.id, it.join))
        if spec.max_wait_s is not None:
            self._timer(it.queue_joined_at + spec.max_wait_s, Timer(_MAX_WAIT_TIMER, it.id, it.join))
        self._out.append(
            cmd.InteractionQueued(
                it.id, spec.name, spec.channel, step, reason, self.now, it.original_position
            )
        )
        if match:
            self._match_interaction(it, _ARRIVAL if reason is _ARRIVED else QUEUED_TRIGGER[reason])

    def _enqueue_direct(
        self,
        it: InteractionRec,
        agent: AgentRec,
        wait_s: float | None = None,
        reason: QueueReason = QueueReason.TRANSFERRED_TO_AGENT,
    ) -> None:
        spec = it.queue.spec
        it.stage = Stage.WAITING
        it.step = 0
        it.join += 1
        it.target_agent = agent.id
        self.direct.setdefault(agent.id, []).append(it.id)
        wait = self.centre.routing.direct_fallback_s if wait_s is None else wait_s
        self._timer(self.now + wait, Timer(TimerKind.DIRECT, it.id, it.join))
        position = 0
        if reason is QueueReason.PREFERRED_AGENT:
            # A new visit: first in line for its agent.
            it.original_position = position = 1
        self._out.append(cmd.InteractionQueued(it.id, spec.name, spec.channel, 0, reason, self.now, position))
        channels = agent.free_channels()
        if it.channel in channels:
            self._offer_direct(agent, channels)

    def _escalate(self, it: InteractionRec) -> None:
        spec = it.queue.spec
        self._leave_bucket(it)
        it.step += 1
        self._place(it)
        if it.step < len(spec.steps):
            self._timer(
                it.queue_joined_at + spec.steps[it.step].after_s, Timer(TimerKind.STEP, it.id, it.join)
            )
        self._out.append(
            cmd.InteractionQueued(it.id, spec.name, spec.channel, it.step, QueueReason.ESCALATED, self.now)
        )
        self._match_interaction(it, Trigger.ESCALATION)

    def _exit(self, it: InteractionRec, target: ExitTarget | None, reason: ExitReason) -> None:
        self._leave_bucket(it)
        spec = it.queue.spec
        if target is not None and target.kind is ExitKind.QUEUE and it.hops < MAX_OVERFLOW_HOPS:
            dest = self.queues.get(target.value)
            if dest is not None:
                # The exit reason stands as the disposition of the visit that overflowed.
                self._finish(it, Outcome.OVERFLOWED, reason, keep=True)
                it.hops += 1
                it.queue = dest
                it.queue_joined_at = self.now
                it.offered_at = it.answered_at = None
                it.agent_id = None
                it.misses = 0
                self._join(it, QueueReason.OVERFLOWED)
                return
        if target is not None and target.kind is ExitKind.QUEUE:
            target, reason = None, ExitReason.OVERFLOW_LOOP
        self._out.append(cmd.ExitInteraction(it.id, spec.name, target, reason))
        self._finish(it, EXIT_OUTCOME[reason], "")

    def _on_abandon(self, e: ev.InteractionAbandoned) -> None:
        it = self._interaction(e, e.interaction_id)
        if it is None:
            return
        if it.stage is _CONNECTED:
            self._end_connected(it, CALLER_HANGUP)
            return
        if it.stage is _OFFERED and it.offer is not None:
            offer = it.offer
            self._out.append(cmd.CancelOffer(offer.offer_id, it.id, offer.agent_id, CancelReason.CALLER_GONE))
            self._close_offer(offer)
            a = self.agents.get(offer.agent_id)
            self._finish(it, Outcome.ABANDONED_RINGING, "")
            if a is not None:
                self._publish(a)
                self._refresh(a, _AGENT_FREE)
            return
        self._leave_bucket(it)
        self._finish(it, Outcome.ABANDONED, "")

    def _on_trunk(self, e: ev.TrunkDown | ev.TrunkUp) -> None:
        """A trunk between nodes fails or is back: no new offers over it, then again."""
        key = trunk_key(e.node, e.other)
        if isinstance(e, ev.TrunkDown):
            self.topology.down.add(key)
            return
        if key not in self.topology.down:
            return
        self.topology.down.discard(key)
        # Callers who waited for want of it may reach a free agent over it now.
        waiting = sorted(
            (i for i in self.interactions.values() if i.stage is _WAITING and i.bucket is not None),
            key=lambda i: (i.order_time, i.seq),
        )
        for it in waiting:
            if it.stage is _WAITING:
                self._match_interaction(it, Trigger.REBALANCE)

    def _on_dropped(self, e: ev.InteractionDropped) -> None:
        """The PBX lost it. A connected call was answered (and counts so), ending as dropped;
        one still waiting or ringing ends `pbx_dropped`, no abandon and no agent's miss."""
        it = self._interaction(e, e.interaction_id)
        if it is None:
            return
        if it.stage is _CONNECTED:
            self._end_connected(it, Outcome.PBX_DROPPED)
            return
        offer = it.offer if it.stage is _OFFERED else None
        if offer is not None:
            self._out.append(cmd.CancelOffer(offer.offer_id, it.id, offer.agent_id, CancelReason.CALLER_GONE))
            self._close_offer(offer)
            a = self.agents.get(offer.agent_id)
            self._finish(it, Outcome.PBX_DROPPED, "")
            if a is not None:
                self._publish(a)
                self._refresh(a, _AGENT_FREE)
            return
        self._leave_bucket(it)
        self._finish(it, Outcome.PBX_DROPPED, "")

    def _pending_offer(self, e: ev.OfferAccepted | ev.OfferDeclined) -> OfferRec | None:
        it = self.interactions.get(e.interaction_id)
        offer = it.offer if it is not None else None
        if offer is None or offer.agent_id != e.agent_id:
            self._reject(e, RejectCode.NO_PENDING_OFFER, "no such pending offer")
            return None
        return offer

    def _on_accept(self, e: ev.OfferAccepted) -> None:
        offer = self._pending_offer(e)
        if offer is None:
            return
        it = self.interactions[e.interaction_id]
        a = self.agents[e.agent_id]
        self._close_offer(offer)
        it.stage = _CONNECTED
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
        self._refresh(a, _AGENT_FREE)

    def _on_decline(self, e: ev.OfferDeclined) -> None:
        offer = self._pending_offer(e)
        if offer is not None:
            self._declined(offer)

    def _declined(self, offer: OfferRec) -> None:
        a = self.agents.get(offer.agent_id)
        it = self.interactions.get(offer.interaction_id)
        nodes_down = self.topology.nodes_down
        if (a is not None and a.unreachable) or (
            nodes_down and it is not None and self.topology.caller_node(it) in nodes_down
        ):
            # Its node (the agent's or the caller's) failed under the offer: not the agent's
            # miss, not the caller's turn lost.
            self._return_offer(offer, miss=False)
            if a is not None:
                self._publish(a)
                if not a.unreachable:
                    self._refresh(a, _AGENT_FREE)
            return
        self._return_offer(offer, miss=True)
        if a is None:
            return
        a.misses += 1
        routing = self.centre.routing
        if a.misses >= routing.max_misses and a.presence is Presence.READY:
            self._pause(a, routing.miss_pause_reason, None)
        else:
            self._publish(a)
        self._refresh(a, _AGENT_FREE)

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
            self._exit(it, spec.on_max_wait, ExitReason.MAX_WAIT)
            return
        self._enqueue(it, QueueReason.RETURNED, match=False)
        if miss:
            # A retry outlives re-queueing: it is tied to the exclusion, not to a visit.
            self._timer(it.excluded[offer.agent_id], Timer(TimerKind.RETRY, it.id, it.seq))
        self._match_interaction(it, Trigger.RETURNED)

    def _on_end(self, e: ev.InteractionEnded) -> None:
        it = self._interaction(e, e.interaction_id)
        if it is None:
            return
        if it.stage is _CONNECTED:
            self._end_connected(it, e.disposition)
        elif it.stage is _OFFERED:
            self._on_abandon(ev.InteractionAbandoned(it.id))
        else:
            self._leave_bucket(it)
            self._finish(it, Outcome.ABANDONED, e.disposition)

    def _end_connected(self, it: InteractionRec, disposition: str) -> None:
        a = self.agents.get(it.agent_id or "")
        self._finish(it, Outcome.ANSWERED, disposition)
        if a is None:
            return
        ch = a.connected.pop(it.id, None)
        if ch is None:
            return
        wrap = it.queue.spec.wrapup_s
        if wrap > 0:
            # The slot stays held through wrap-up; other channels may still be free.
            a.wrapping[it.id] = ch
            self._timer(self.now + wrap, Timer(TimerKind.WRAP, a.id, 0, it.id))
        else:
            self._release(a, ch)
        self._publish(a)
        self._refresh(a, _AGENT_FREE)

    def _on_move(self, e: ev.InteractionMoved | ev.InteractionTransferred) -> None:
        it = self._interaction(e, e.interaction_id)
        if it is None:
            return
        dest = self.queues.get(e.queue)
        if dest is None:
            self._reject(e, RejectCode.UNKNOWN_QUEUE, f"unknown queue {e.queue!r}")
            return
        moving = isinstance(e, ev.InteractionMoved)
        if it.stage is not (Stage.WAITING if moving else Stage.CONNECTED):
            code, state = (
                (RejectCode.NOT_WAITING, "waiting") if moving else (RejectCode.NOT_CONNECTED, "connected")
            )
            self._reject(e, code, f"interaction {it.id} is not {state}")
            return
        if dest.spec.channel is not it.channel:
            self._reject(e, RejectCode.WRONG_CHANNEL, f"queue {dest.name} takes {dest.spec.channel}")
            return
        if isinstance(e, ev.InteractionMoved):
            self._leave_bucket(it)
            self._finish(it, Outcome.MOVED, "", keep=True)
            it.queue = dest
            it.queue_joined_at = self.now
            it.offered_at = None
            self._enqueue(it, QueueReason.MOVED)
            return
        target = None
        if e.agent_id is not None:
            target = self.agents.get(e.agent_id)
            if target is None:
                self._reject(e, RejectCode.UNKNOWN_AGENT, f"unknown agent {e.agent_id!r}")
                return
            if target.id == it.agent_id:
                self._reject(e, RejectCode.ALREADY_HOLDS, f"{target.id} already holds {it.id}")
                return
            if target.profile.capacity.get(it.channel, 0) < 1:
                self._reject(e, RejectCode.NO_CAPACITY, f"agent {target.id} takes no {it.channel}")
                return
        # A transfer ends the agent's part like a hang-up, then the interaction waits anew.
        a = self.agents.get(it.agent_id or "")
        self._finish(it, Outcome.TRANSFERRED, "", keep=True)
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
            self._refresh(a, _AGENT_FREE)
        if target is not None:
            self._enqueue_direct(it, target)
        else:
            self._join(it, QueueReason.TRANSFERRED)

    def _on_priority(self, e: ev.InteractionPriorityChanged) -> None:
        it = self._interaction(e, e.interaction_id)
        if it is None:
            return
        if it.stage is Stage.OFFERED:
            it.priority = e.priority  # counts if the offer comes back
            return
        if it.stage is not Stage.WAITING:
            self._reject(e, RejectCode.NOT_WAITING, f"interaction {it.id} is not waiting")
            return
        it.priority = e.priority
        if it.bucket is None:
            return  # waiting for one named agent: no queue order to change
        self._leave_bucket(it)
        self._place(it)
        spec = it.queue.spec
        self._out.append(
            cmd.InteractionQueued(
                it.id, spec.name, spec.channel, it.step, QueueReason.REPRIORITISED, self.now
            )
        )
        self._match_interaction(it, Trigger.REPRIORITISED)

    def _on_hold(self, e: ev.InteractionHeld | ev.InteractionResumed) -> None:
        it = self._interaction(e, e.interaction_id)
        if it is None:
            return
        if it.stage is not _CONNECTED:
            self._reject(e, RejectCode.NOT_CONNECTED, f"interaction {it.id} is not connected")
            return
        if type(e) is ev.InteractionHeld:
            if it.held_since is None:
                it.held_since = self.now
        elif it.held_since is not None:
            it.hold_s += self.now - it.held_since
            it.held_since = None
