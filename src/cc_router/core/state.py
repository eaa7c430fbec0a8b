"""What the router knows, and the small steps every part of it takes on that knowledge.

The parts (matching, interactions, agents, timeouts, building) are layers over this state,
each one a class that extends the one below it; `Router` is the top one. The steps here
call nothing above them.
"""

from __future__ import annotations

import heapq
import random

from cc_router.core import commands as cmd
from cc_router.core import events as ev
from cc_router.core.pools import Bucket, Pool
from cc_router.core.records import AgentRec, InteractionRec, OfferRec, QueueRec
from cc_router.core.spec import CentreSpec, Channel, Strategy
from cc_router.core.timers import Timer, TimerEntry, timer_entry
from cc_router.core.topology import Topology
from cc_router.core.vocabulary import Outcome, Presence, RejectCode, Stage, TimerKind

PoolKey = tuple[Channel, str, Strategy, str]

# Enum members are read through EnumType's attribute hook, several times slower than a
# module global; the hot path compares against these instead.
_DONE = Stage.DONE


class RouterState:
    def __init__(self, centre: CentreSpec) -> None:
        self.centre = centre
        self.agents: dict[str, AgentRec] = {}
        self.queues: dict[str, QueueRec] = {}
        self.interactions: dict[str, InteractionRec] = {}
        self.pools: dict[PoolKey, Pool] = {}
        self.topology = Topology(centre.topology)
        """Nodes and trunks (inactive with one node: the single-node path is unchanged)."""
        self.offers: dict[str, OfferRec] = {}
        self.direct: dict[str, list[str]] = {}
        """Interactions waiting for one agent (transferred to them), per agent, oldest first."""
        self.rng = random.Random(centre.routing.seed)
        self.now = 0.0
        self._seq = 0
        """One counter for arrivals, pool entries and timers: ties break by it."""
        self._offer_seq = 0
        self._timers: list[TimerEntry] = []
        self._out: list[cmd.Command] = []

    def _new_interaction(
        self,
        e: ev.InteractionArrived | ev.InteractionAdopted,
        q: QueueRec,
        since: float,
        agent_id: str | None = None,
        offered_at: float | None = None,
    ) -> InteractionRec:
        """A new interaction record in the core, in arrival order from `since` (an arrival,
        or a call found in progress after a restart)."""
        self._seq += 1
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
            agent_id=agent_id,
            offered_at=offered_at,
        )
        self.interactions[it.id] = it
        return it

    def _timer(self, due: float, timer: Timer) -> None:
        self._seq += 1
        heapq.heappush(self._timers, timer_entry(due, self._seq, timer))

    def _reject(self, event: object, code: RejectCode, reason: str) -> None:
        self._out.append(cmd.EventRejected(event, code, reason))

    def _publish(self, a: AgentRec, since: float | None = None) -> None:
        """`since`: the agent has been in its new state since then (restored after a
        restart); the change itself is still reported now, closing the stored interval
        that was open when the router stopped."""
        state, reason = a.derive_state()
        if state is a.state and reason == a.state_reason:
            return
        self._out.append(
            cmd.AgentStateChanged(a.id, state, reason, self.now, a.state, a.state_since, since is not None)
        )
        a.state, a.state_reason = state, reason
        a.state_since = self.now if since is None else since

    def _pause(self, a: AgentRec, reason: str, max_s: float | None) -> None:
        a.presence = Presence.PAUSED
        a.pause_reason = reason
        a.pause_token += 1
        a.token += 1
        if max_s is not None and max_s > 0:
            self._timer(self.now + max_s, Timer(TimerKind.PAUSE, a.id, a.pause_token))
        self._publish(a)

    def _release(self, a: AgentRec, ch: Channel) -> None:
        a.load[ch] = a.load.get(ch, 0) - 1
        if not any(a.load.values()):
            a.idle_since = self.now

    def _is_excluded(self, it: InteractionRec, agent_id: str) -> bool:
        until = it.excluded.get(agent_id)
        return until is not None and until > self.now

    def _place(self, it: InteractionRec) -> None:
        bucket = it.queue.buckets[it.step]
        it.token += 1
        bucket.push(it)
        it.bucket = bucket
        it.queue.waiting += 1

    def _leave_bucket(self, it: InteractionRec) -> None:
        if it.target_agent is not None:
            waiting_for = self.direct.get(it.target_agent, [])
            if it.id in waiting_for:
                waiting_for.remove(it.id)
                if not waiting_for:
                    del self.direct[it.target_agent]
            it.target_agent = None
            return
        bucket: Bucket | None = it.bucket
        if bucket is None:
            return
        it.token += 1
        bucket.live -= 1
        bucket.queue.waiting -= 1
        it.bucket = None

    def _close_offer(self, offer: OfferRec) -> None:
        self.offers.pop(offer.offer_id, None)
        a = self.agents.get(offer.agent_id)
        if a is not None and a.offer is offer:
            a.offer = None
        it = self.interactions.get(offer.interaction_id)
        if it is not None and it.offer is offer:
            it.offer = None

    def _finish(self, it: InteractionRec, outcome: Outcome, disposition: str, keep: bool = False) -> None:
        now = self.now
        wait_end = it.answered_at if it.answered_at is not None else now
        talk = now - it.answered_at if it.answered_at is not None else 0.0
        hold = it.hold_s
        if it.held_since is not None:
            # Ended while on hold: the hold lasted up to the end.
            hold += now - it.held_since
            it.held_since = None
        it.hold_s = 0.0  # a transferred interaction's next visit starts with none
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
                hold_s=max(0.0, hold),
            )
        )
        if not keep:
            it.stage = _DONE
            self.interactions.pop(it.id, None)
