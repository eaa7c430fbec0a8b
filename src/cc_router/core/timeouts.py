"""Timeouts: what happens when a timer falls due."""

from __future__ import annotations

import heapq

from cc_router.core import commands as cmd
from cc_router.core.agents import Agents
from cc_router.core.timers import KIND_CODE, Timer, TimerEntry, entry_timer
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
_OFFER_CODE, _WRAP_CODE, _PAUSE_CODE = KIND_CODE[_OFFER], KIND_CODE[_WRAP], KIND_CODE[_PAUSE]
_RETRY_CODE = KIND_CODE[_RETRY]
_WAITING_CODES = frozenset(KIND_CODE[k] for k in (_STEP, _RETRY, _DIRECT, TimerKind.MAX_WAIT))


class Timeouts(Agents):
    def next_timer_at(self) -> float | None:
        """When the next timer that can still do something falls due: a driver ticks the
        core no later than this. Timers that can no longer apply (an offer answered, a
        caller connected: most of those set) are dropped from the head here, so a driver
        is not woken for them; firing them would have done nothing."""
        timers = self._timers
        while timers and self._spent(timers[0]):
            heapq.heappop(timers)
        return timers[0][0] if timers else None

    def _spent(self, e: TimerEntry) -> bool:
        """True if firing the timer would do nothing (`_fire`'s own checks, for the kinds
        it handles; other kinds are never taken for spent)."""
        code, ref = e[2], e[3]
        if code == _OFFER_CODE:
            return ref not in self.offers
        if code == _WRAP_CODE:
            a = self.agents.get(ref)
            return a is None or e[5] not in a.wrapping
        if code == _PAUSE_CODE:
            a = self.agents.get(ref)
            return a is None or a.presence is not Presence.PAUSED or a.pause_token != e[4]
        if code in _WAITING_CODES:
            it = self.interactions.get(ref)
            if it is None or it.stage is not _WAITING:
                return True
            return (it.seq if code == _RETRY_CODE else it.join) != e[4]
        return False

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
