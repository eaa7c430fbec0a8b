"""Callbacks that keep the caller's place.

A caller who asks for a callback (or leaves by a `callback` exit) stays the same
interaction in the same queue, with its priority and seniority: only the way it is
connected changes. When it reaches the head and an agent is reserved, the adapter rings
the agent first and then dials the customer; a failed attempt takes it out of the queue
until the next may start (`core/callbacks.py`: attempts, gap, window of local hours),
then it rejoins at its old place.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from cc_router.core import commands as cmd
from cc_router.core import events as ev
from cc_router.core.callbacks import first_in_window, next_attempt_at
from cc_router.core.records import InteractionRec
from cc_router.core.spec import Channel, ExitKind, ExitTarget
from cc_router.core.timeouts import Timeouts
from cc_router.core.timers import Timer
from cc_router.core.vocabulary import (
    CallbackResult,
    CallbackSource,
    ExitReason,
    Outcome,
    QueueReason,
    RejectCode,
    Stage,
    TimerKind,
    Trigger,
)


class CallbackRouting(Timeouts):
    def _tz(self) -> ZoneInfo:
        return ZoneInfo(self.centre.routing.timezone)

    # ------------------------------------------------------------------ becoming a callback

    def _on_callback_requested(self, e: ev.CallbackRequested) -> None:
        it = self._interaction(e, e.interaction_id)
        if it is None:
            return
        if it.stage is not Stage.WAITING or it.bucket is None:
            self._reject(e, RejectCode.NOT_WAITING, f"interaction {it.id} is not waiting in a queue")
            return
        if it.queue.spec.callback is None or it.channel is not Channel.VOICE:
            self._reject(e, RejectCode.NO_CALLBACK, f"queue {it.queue.name} offers no callbacks")
            return
        if it.callback_attempts is not None:
            return  # already one: pressing the key twice changes nothing
        self._leave_bucket(it)
        self._become_callback(it, CallbackSource.REQUESTED)

    def _exit(self, it: InteractionRec, target: ExitTarget | None, reason: ExitReason) -> None:
        if it.callback_attempts is not None and reason is ExitReason.MAX_WAIT:
            # A callback has been promised a call: waiting long does not end it.
            if it.bucket is None and it.stage is Stage.WAITING:
                self._enqueue(it, QueueReason.RETURNED)
            return
        if (
            target is not None
            and target.kind is ExitKind.CALLBACK
            and it.callback_attempts is None
            and it.queue.spec.callback is not None
            and it.channel is Channel.VOICE
        ):
            self._leave_bucket(it)
            self._become_callback(it, CallbackSource.EXIT)
            return
        super()._exit(it, target, reason)

    def _become_callback(self, it: InteractionRec, source: CallbackSource) -> None:
        it.callback_attempts = 0
        spec = it.queue.spec
        self._out.append(
            cmd.CallbackAccepted(it.id, spec.name, it.priority, it.order_time, it.caller, source, 0, self.now)
        )
        self._schedule_callback(it, self.now)

    def _on_callback_restored(self, e: ev.CallbackRestored) -> None:
        q = self.queues.get(e.queue)
        if q is None:
            self._reject(e, RejectCode.UNKNOWN_QUEUE, f"unknown queue {e.queue!r}")
            return
        if e.interaction_id in self.interactions:
            self._reject(e, RejectCode.ALREADY_KNOWN, f"interaction {e.interaction_id!r} already known")
            return
        self._seq += 1
        since = min(e.since, self.now)
        it = InteractionRec(
            id=e.interaction_id,
            queue=q,
            priority=e.priority,
            caller=e.caller,
            attributes={},
            arrived_at=since,
            order_time=since,
            seq=self._seq,
            queue_joined_at=since,
            callback_attempts=e.attempts,
        )
        self.interactions[it.id] = it
        self._out.append(
            cmd.CallbackAccepted(
                it.id, q.name, it.priority, since, it.caller, CallbackSource.RESTORED, e.attempts, self.now
            )
        )
        self._schedule_callback(it, max(self.now, e.not_before or 0.0))

    def _schedule_callback(self, it: InteractionRec, earliest: float) -> None:
        """Into the queue at its place now, or out of it until `earliest` (in the window)."""
        policy = it.queue.spec.callback
        at = earliest if policy is None else first_in_window(policy, earliest, self._tz())
        if at <= self.now:
            self._rejoin(it)
            return
        it.stage = Stage.SCHEDULED
        it.join += 1
        self._timer(at, Timer(TimerKind.CALLBACK, it.id, it.join))

    def _fire(self, t: Timer) -> None:
        if t.kind is not TimerKind.CALLBACK:
            super()._fire(t)
            return
        it = self.interactions.get(t.ref)
        if it is not None and it.stage is Stage.SCHEDULED and it.join == t.guard:
            self._rejoin(it)

    def _rejoin(self, it: InteractionRec) -> None:
        # Its place comes from priority and seniority, which it keeps; so does the place it
        # had on first joining (queue_log's original position).
        first = it.original_position
        self._enqueue(it, QueueReason.CALLBACK)
        if first:
            it.original_position = first

    # ------------------------------------------------------------------ attempts

    def _on_accept(self, e: ev.OfferAccepted) -> None:
        super()._on_accept(e)
        it = self.interactions.get(e.interaction_id)
        if it is not None and it.callback_attempts is not None and it.stage is Stage.CONNECTED:
            self._out.append(
                cmd.CallbackDialling(it.id, it.queue.name, e.agent_id, it.callback_attempts + 1, self.now)
            )

    def _on_callback_attempt(self, e: ev.CallbackAttemptEnded) -> None:
        it = self._interaction(e, e.interaction_id)
        if it is None:
            return
        if it.callback_attempts is None or it.stage is not Stage.CONNECTED or it.agent_id is None:
            self._reject(e, RejectCode.NOT_CALLBACK, f"interaction {it.id} is not a callback being dialled")
            return
        policy = it.queue.spec.callback
        it.callback_attempts += 1
        agent_id = it.agent_id
        if e.result is CallbackResult.ANSWERED:
            self._out.append(
                cmd.CallbackAttempted(
                    it.id, it.queue.name, agent_id, it.callback_attempts, e.result, None, self.now
                )
            )
            return  # connected: it ends like any call, by a hang-up
        nxt = None if policy is None else next_attempt_at(policy, it.callback_attempts, self.now, self._tz())
        self._out.append(
            cmd.CallbackAttempted(
                it.id, it.queue.name, agent_id, it.callback_attempts, e.result, nxt, self.now
            )
        )
        # The agent never spoke to the customer: free at once, no wrap-up.
        a = self.agents.get(agent_id)
        ch = a.connected.pop(it.id, None) if a is not None else None
        it.answered_at = None
        it.agent_id = None
        it.offered_at = None
        if nxt is None:
            self._finish(it, Outcome.CALLBACK_FAILED, str(e.result))
        else:
            self._schedule_callback(it, nxt)
        if a is not None:
            if ch is not None:
                self._release(a, ch)
            self._publish(a)
            self._refresh(a, Trigger.AGENT_FREE)
