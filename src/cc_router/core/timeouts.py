"""Timeouts: what happens when a timer falls due."""

from __future__ import annotations

import heapq

from cc_router.core import commands as cmd
from cc_router.core.agents import Agents
from cc_router.core.timers import Timer, entry_timer
from cc_router.core.vocabulary import (
    CancelReason,
    ExitReason,
    Presence,
    QueueReason,
    Stage,
    TimerKind,
    Trigger,
)

# Enum members are read through EnumType's attribute hook, several times slower than a
# module global; the hot path compares against these instead.
_OFFER, _WRAP, _PAUSE = TimerKind.OFFER, TimerKind.WRAP, TimerKind.PAUSE
_STEP, _RETRY, _DIRECT = TimerKind.STEP, TimerKind.RETRY, TimerKind.DIRECT
_WAITING, _AGENT_FREE = Stage.WAITING, Trigger.AGENT_FREE


class Timeouts(Agents):
    def next_timer_at(self) -> float | None:
        """When the next timer falls due: a driver ticks the core no later than this."""
        return self._timers[0][0] if self._timers else None

    def _fire_timers(self, now: float) -> None:
        # Each timer fires at its own due time, so results do not depend on how often
        # the driver ticks.
        timers = self._timers
        while timers and timers[0][0] <= now:
            entry = heapq.heappop(timers)
            due = entry[0]
            if due > self.now:
                self.now = due
            self._fire(entry_timer(entry))

    def _fire(self, t: Timer) -> None:
        kind = t.kind
        if kind is _OFFER:
            offer = self.offers.get(t.ref)
            if offer is not None:
                self._out.append(
                    cmd.CancelOffer(
                        offer.offer_id, offer.interaction_id, offer.agent_id, CancelReason.TIMEOUT
                    )
                )
                self._declined(offer)
        elif kind is _WRAP:
            a = self.agents.get(t.ref)
            if a is not None and t.interaction_id in a.wrapping:
                self._end_wrap(a, t.interaction_id)
                self._refresh(a, _AGENT_FREE)
        elif kind is _PAUSE:
            a = self.agents.get(t.ref)
            if a is not None and a.presence is Presence.PAUSED and a.pause_token == t.guard:
                self._ready(a)
                self._publish(a)
                self._refresh(a, _AGENT_FREE)
        else:
            it = self.interactions.get(t.ref)
            if it is None or it.stage is not _WAITING:
                return
            # A retry outlives re-queueing (it is tied to an exclusion, not to a visit).
            if (it.seq if kind is _RETRY else it.join) != t.guard:
                return
            if kind is _DIRECT:
                if it.target_agent is not None:
                    self._leave_bucket(it)
                    self._enqueue(it, QueueReason.DIRECT_FALLBACK)
            elif kind is _STEP:
                self._escalate(it)
            elif kind is TimerKind.MAX_WAIT:
                self._exit(it, it.queue.spec.on_max_wait, ExitReason.MAX_WAIT)
            else:
                self._match_interaction(it, Trigger.RETRY)
