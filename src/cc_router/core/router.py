"""The routing core: `Router.handle(event, now) -> [commands]`.

Pure and synchronous. The router is built in layers over one state (`state.py`), each in
its own module with one job:

- `matching.py`: the two routing questions and the offer that answers them (a call is
  routed there);
- `interactions.py`: arrivals, queues, exits, offers taken or not, the end;
- `agents.py`: presence, pauses, devices, skills, wrap-up;
- `timeouts.py`: what a timer does when it falls due;
- `adoption.py`: calls in progress found after a restart;
- `callback_routing.py`: callbacks that keep the caller's place, and their attempts;
- `building.py`: records and indexes from the centre spec, and rebuilding on change.

This module adds the entry point, the event table and the read API that surfaces use.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Set
from typing import Any, ClassVar

from cc_router.core import commands as cmd
from cc_router.core import events as ev
from cc_router.core.building import Building
from cc_router.core.records import InteractionRec
from cc_router.core.spec import CentreSpec
from cc_router.core.vocabulary import AgentState, RejectCode, Stage

NOBODY: frozenset[str] = frozenset()


class Router(Building):
    def __init__(self, centre: CentreSpec) -> None:
        super().__init__(centre)
        self._build(centre, first=True)

    def handle(self, event: ev.Event, now: float) -> list[cmd.Command]:
        out = self._out = []
        self._fire_timers(now)
        if now > self.now:
            self.now = now
        handler = self._handlers.get(type(event))
        if handler is None:
            self._reject(event, RejectCode.UNKNOWN_EVENT, f"unknown event type {type(event).__name__}")
        else:
            handler(self, event)
        self._out = []
        return out

    def _on_tick(self, e: ev.Tick) -> None:
        return

    _handlers: ClassVar[dict[type, Callable[[Any, Any], None]]] = {}

    # ------------------------------------------------------------------ reads

    def waiting_in(self, queue: str) -> list[InteractionRec]:
        """What waits in `queue`, in the order it will be served (across its steps).

        Work transferred to one named agent waits for that agent, not in the queue."""
        q = self.queues.get(queue)
        if q is None:
            return []
        inters = self.interactions
        entries = [e for b in q.buckets for e in b.valid_sorted(inters)]
        entries.sort()
        return [inters[e[1]] for e in entries]

    def position(self, interaction_id: str) -> int | None:
        """1-based place in its queue, counting those that will be served before it."""
        it = self.interactions.get(interaction_id)
        if it is None or it.stage is not Stage.WAITING or it.bucket is None:
            return None
        return self.waiting_in(it.queue.name).index(it) + 1

    def waiting(self) -> Iterable[InteractionRec]:
        return (i for i in self.interactions.values() if i.stage is Stage.WAITING)

    def agents_of(self, queue: str) -> Set[str]:
        """Agents who could serve `queue` at its widest step, whatever their state now."""
        q = self.queues.get(queue)
        return q.buckets[-1].pool.members if q is not None and q.buckets else NOBODY

    def queues_of(self, agent_id: str) -> tuple[str, ...]:
        """The queues an agent could serve (at their widest step), in config order."""
        return tuple(
            name for name, q in self.queues.items() if q.buckets and agent_id in q.buckets[-1].pool.members
        )

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
    ev.InteractionAdopted: Router._on_adopt,
    ev.InteractionAbandoned: Router._on_abandon,
    ev.OfferAccepted: Router._on_accept,
    ev.OfferDeclined: Router._on_decline,
    ev.InteractionEnded: Router._on_end,
    ev.InteractionMoved: Router._on_move,
    ev.InteractionTransferred: Router._on_move,
    ev.InteractionPriorityChanged: Router._on_priority,
    ev.InteractionHeld: Router._on_hold,
    ev.InteractionResumed: Router._on_hold,
    ev.CallbackRequested: Router._on_callback_requested,
    ev.CallbackRestored: Router._on_callback_restored,
    ev.CallbackAttemptEnded: Router._on_callback_attempt,
    ev.NodeDown: Router._on_node,
    ev.NodeUp: Router._on_node,
    ev.TrunkDown: Router._on_trunk,
    ev.TrunkUp: Router._on_trunk,
    ev.InteractionDropped: Router._on_dropped,
    ev.QueueChanged: Router._on_queue_changed,
    ev.CentreReplaced: Router._on_centre,
    ev.Tick: Router._on_tick,
}
