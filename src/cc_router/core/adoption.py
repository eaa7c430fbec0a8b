"""Adoption: calls in progress found when the router starts again take up where they were.

A router that restarts (or a standby that takes over) meets calls the previous process
had put through: an agent leg still ringing for a caller, or already bridged to it. They
are not queued or offered again (the caller would be offered twice, the agent bridged
twice, and the live call end as abandoned). Each becomes the interaction it was: a
pending offer under its original offer id, or connected to its agent since it answered.
"""

from __future__ import annotations

from cc_router.core import commands as cmd
from cc_router.core import events as ev
from cc_router.core.records import OfferRec
from cc_router.core.timeouts import Timeouts
from cc_router.core.timers import Timer
from cc_router.core.vocabulary import RejectCode, Stage, TimerKind, Trigger


def _offer_number(offer_id: str) -> int:
    """The sequence number in an offer id the core made (`o<n>`), else 0."""
    digits = offer_id[1:] if offer_id.startswith("o") else ""
    return int(digits) if digits.isdigit() else 0


class Adoption(Timeouts):
    def _on_adopt(self, e: ev.InteractionAdopted) -> None:
        q = self.queues.get(e.queue)
        if q is None:
            self._reject(e, RejectCode.UNKNOWN_QUEUE, f"unknown queue {e.queue!r}")
            return
        if e.interaction_id in self.interactions:
            self._reject(e, RejectCode.ALREADY_KNOWN, f"interaction {e.interaction_id!r} already known")
            return
        a = self.agents.get(e.agent_id)
        if a is None:
            self._reject(e, RejectCode.UNKNOWN_AGENT, f"unknown agent {e.agent_id!r}")
            return
        ringing = e.answered_at is None
        if ringing and (a.offer is not None or e.offer_id in self.offers):
            self._reject(e, RejectCode.ALREADY_HOLDS, f"agent {a.id} already holds an offer")
            return
        arrived = min(e.arrived_at, self.now)
        it = self._new_interaction(e, q, arrived, agent_id=a.id, offered_at=self.now if ringing else None)
        channel = q.spec.channel
        # The previous process's offer ids go on; new ones must not reuse them.
        self._offer_seq = max(self._offer_seq, _offer_number(e.offer_id))
        if e.answered_at is None:
            explanation = cmd.Explanation(
                trigger=Trigger.ADOPTED,
                queue=q.name,
                strategy="",
                step=0,
                requirement="",
                chosen=a.id,
                score=(),
                candidates=(),
                excluded=(),
                available=0,
            )
            offer = OfferRec(e.offer_id, it.id, a.id, channel, self.now, explanation)
            self.offers[offer.offer_id] = offer
            a.offer = offer
            it.offer = offer
            it.stage = Stage.OFFERED
            it.explanation = explanation
            # It rang already for an unknown part of its timeout: it gets the whole again.
            timeout = q.spec.ring_timeout_s + self.centre.routing.offer_grace_s
            self._timer(self.now + timeout, Timer(TimerKind.OFFER, offer.offer_id))
            self._publish(a)
            self._refresh(a, Trigger.AGENT_FREE)  # out of its pools while it rings
            return
        answered = max(arrived, min(e.answered_at, self.now))
        it.stage = Stage.CONNECTED
        it.offered_at = answered
        it.answered_at = answered
        # A hold the agent began before the restart goes on: its time counts from then.
        it.hold_s = max(0.0, e.hold_s)
        if e.held_since is not None:
            it.held_since = max(answered, min(e.held_since, self.now))
        a.connected[it.id] = channel
        a.load[channel] = a.load.get(channel, 0) + 1
        a.handled += 1
        self._publish(a, answered)
        # Out of its pools for this channel; a blended agent may still take other work.
        self._refresh(a, Trigger.AGENT_FREE)
