"""The core's words: every outcome, reason, trigger and state it speaks of.

Each is a `StrEnum` whose values are the strings stored in SQL, written to logs and
published over MQTT, so rows and lines stay the same while code compares members.
Consumers (store, reports, simulator, metrics, omni, adapters) import these instead of
spelling the strings again.
"""

from __future__ import annotations

from enum import StrEnum


class Outcome(StrEnum):
    """How one interaction's visit to one queue ended (`InteractionFinished.outcome`)."""

    ANSWERED = "answered"
    ABANDONED = "abandoned"
    ABANDONED_RINGING = "abandoned_ringing"
    OVERFLOWED = "overflowed"
    """Left by an exit to another queue; the visit there follows."""
    MOVED = "moved"
    """A supervisor moved it to another queue while it waited."""
    TRANSFERRED = "transferred"
    """An agent handed it on after talking to it."""
    TIMED_OUT = "timed_out"
    """Waited `max_wait_s` (the exit reason is `max_wait`)."""
    MAX_LENGTH = "max_length"
    EMPTY = "empty"
    QUEUE_REMOVED = "queue_removed"
    OVERFLOW_LOOP = "overflow_loop"
    CALLBACK_FAILED = "callback_failed"
    """A callback whose every attempt to reach the customer failed."""
    PBX_DROPPED = "pbx_dropped"
    """The Asterisk node (or trunk) holding the call failed: nobody in the queue is to blame."""


ANSWERED_OUTCOMES = frozenset({Outcome.ANSWERED, Outcome.TRANSFERRED})
"""An agent talked to the caller in this visit."""
ABANDONED_OUTCOMES = frozenset({Outcome.ABANDONED, Outcome.ABANDONED_RINGING})
"""The caller went away before an agent answered."""
CONTINUING_OUTCOMES = frozenset({Outcome.OVERFLOWED, Outcome.MOVED, Outcome.TRANSFERRED})
"""The visit ended but the interaction goes on in another queue (or with another agent)."""


class ExitReason(StrEnum):
    """Why the core took an interaction out of its queue (`ExitInteraction.reason`)."""

    MAX_WAIT = "max_wait"
    MAX_LENGTH = "max_length"
    EMPTY = "empty"
    QUEUE_REMOVED = "queue_removed"
    OVERFLOW_LOOP = "overflow_loop"
    """An exit to another queue was refused: the interaction overflowed too often."""


EXIT_OUTCOME: dict[ExitReason, Outcome] = {
    ExitReason.MAX_WAIT: Outcome.TIMED_OUT,
    ExitReason.MAX_LENGTH: Outcome.MAX_LENGTH,
    ExitReason.EMPTY: Outcome.EMPTY,
    ExitReason.QUEUE_REMOVED: Outcome.QUEUE_REMOVED,
    ExitReason.OVERFLOW_LOOP: Outcome.OVERFLOW_LOOP,
}
"""The outcome of a visit that ends by an exit (not to another queue)."""


class Locality(StrEnum):
    """Whether a queue's callers go to agents on other Asterisk nodes (`QueueSpec.locality`)."""

    OFF = "off"
    """The strategy alone decides; the node does not matter."""
    PREFER = "prefer"
    """An equally good agent on the caller's own node goes first (no trunk hop)."""
    ONLY = "only"
    """Agents on the caller's node only."""


class RemoteChoice(StrEnum):
    """Why an agent on another node than the caller's was chosen (`Explanation.remote`)."""

    NO_LOCAL_AGENT = "no_local_agent"
    """No free eligible agent on the caller's node."""
    BETTER_REMOTE = "better_remote"
    """The remote agent scores better than the best one on the caller's node."""
    LOCALITY_OFF = "locality_off"
    """The queue does not prefer its callers' node."""
    AGENT_FREED = "agent_freed"
    """The agent became free and this caller was the first it may take."""


class CancelReason(StrEnum):
    """Why an agent stops being offered an interaction (`CancelOffer.reason`)."""

    TIMEOUT = "timeout"
    """Nobody said whether the agent answered in time (ring timeout plus grace)."""
    CALLER_GONE = "caller_gone"
    AGENT_LOGGED_OUT = "agent_logged_out"
    NODE_DOWN = "node_down"
    """The agent's Asterisk node cannot be reached: the call cannot ring there."""
    MAX_WAIT = "max_wait"
    """Used by the app_queue model, which times callers out while they ring an agent."""


class DeclineReason(StrEnum):
    """Why an offer was not taken (`OfferDeclined.reason`, told by an adapter)."""

    NO_ANSWER = "no_answer"
    REJECTED = "rejected"
    BUSY = "busy"
    FAILED = "failed"
    TIMEOUT = "timeout"


class QueueReason(StrEnum):
    """Why an interaction (re)joins a queue or a step of it (`InteractionQueued.reason`)."""

    ARRIVED = "arrived"
    RETURNED = "returned"
    """Back at its old place after an offer that was not taken."""
    REBUILT = "rebuilt"
    """Placed again after the centre's configuration changed."""
    ESCALATED = "escalated"
    MOVED = "moved"
    OVERFLOWED = "overflowed"
    TRANSFERRED = "transferred"
    TRANSFERRED_TO_AGENT = "transferred_to_agent"
    DIRECT_FALLBACK = "direct_fallback"
    """The named agent did not take it in time; it now waits in the queue."""
    PREFERRED_AGENT = "preferred_agent"
    """Arrived for one agent first (the customer's earlier agent), before the queue."""
    REPRIORITISED = "reprioritised"
    """A supervisor changed its priority: same visit and step, another place."""
    CALLBACK = "callback"
    """Became a callback, or a callback's next attempt is due: the same place (priority
    and seniority) as the call it replaces."""


ENTRY_REASONS = frozenset(
    {
        QueueReason.ARRIVED,
        QueueReason.MOVED,
        QueueReason.OVERFLOWED,
        QueueReason.TRANSFERRED,
        QueueReason.PREFERRED_AGENT,
    }
)
"""A new visit to a queue starts (not a return, escalation or rebuild of one under way)."""


class Trigger(StrEnum):
    """What made the core decide an offer (`Explanation.trigger`)."""

    ARRIVAL = "arrival"
    AGENT_FREE = "agent_free"
    ESCALATION = "escalation"
    RETURNED = "returned"
    RETRY = "retry"
    REBALANCE = "rebalance"
    DIRECT = "direct"
    MOVED = "moved"
    OVERFLOWED = "overflowed"
    TRANSFERRED = "transferred"
    DIRECT_FALLBACK = "direct_fallback"
    REPRIORITISED = "reprioritised"
    CALLBACK = "callback"
    APP_QUEUE = "app_queue"
    """Offers of the app_queue model the simulator compares the core with."""
    ADOPTED = "adopted"
    """An offer made before a restart, found ringing afterwards (`InteractionAdopted`)."""


QUEUED_TRIGGER: dict[QueueReason, Trigger] = {
    QueueReason.ARRIVED: Trigger.ARRIVAL,
    QueueReason.RETURNED: Trigger.RETURNED,
    QueueReason.REBUILT: Trigger.REBALANCE,
    QueueReason.ESCALATED: Trigger.ESCALATION,
    QueueReason.MOVED: Trigger.MOVED,
    QueueReason.OVERFLOWED: Trigger.OVERFLOWED,
    QueueReason.TRANSFERRED: Trigger.TRANSFERRED,
    QueueReason.TRANSFERRED_TO_AGENT: Trigger.DIRECT,
    QueueReason.DIRECT_FALLBACK: Trigger.DIRECT_FALLBACK,
    QueueReason.PREFERRED_AGENT: Trigger.DIRECT,
    QueueReason.REPRIORITISED: Trigger.REPRIORITISED,
    QueueReason.CALLBACK: Trigger.CALLBACK,
}
"""The trigger of the offer made right after an interaction joins its queue."""


class TimerKind(StrEnum):
    OFFER = "offer"
    """An offer nobody answered for: give the interaction back."""
    STEP = "step"
    """The next escalation step is due."""
    MAX_WAIT = "max_wait"
    RETRY = "retry"
    """An agent's exclusion after a miss runs out: look again."""
    DIRECT = "direct"
    """The named agent of a transfer did not take it in time."""
    WRAP = "wrap"
    PAUSE = "pause"
    """A pause with a maximum runs out."""
    CALLBACK = "callback"
    """A callback's next attempt may start (after the gap, inside the window of hours)."""


class RejectCode(StrEnum):
    """Why the core refused an event (`EventRejected.code`; `reason` says it for people)."""

    UNKNOWN_EVENT = "unknown_event"
    UNKNOWN_AGENT = "unknown_agent"
    UNKNOWN_INTERACTION = "unknown_interaction"
    UNKNOWN_QUEUE = "unknown_queue"
    ALREADY_KNOWN = "already_known"
    """An interaction arrived under an id the core already routes."""
    LOGGED_OUT = "logged_out"
    LOGGED_IN = "logged_in"
    """A stored session is restored only into a logged-out agent."""
    BAD_SKILLS = "bad_skills"
    NO_PENDING_OFFER = "no_pending_offer"
    NOT_WAITING = "not_waiting"
    NOT_CONNECTED = "not_connected"
    WRONG_CHANNEL = "wrong_channel"
    ALREADY_HOLDS = "already_holds"
    NO_CAPACITY = "no_capacity"
    BAD_CONFIG = "bad_config"
    NO_CALLBACK = "no_callback"
    """The interaction's queue offers no callbacks (or it is not a call)."""
    NOT_CALLBACK = "not_callback"
    """An attempt's result for an interaction that is not a callback being dialled."""
    NOT_MODELLED = "not_modelled"
    """The app_queue model has no counterpart for this event."""


class Presence(StrEnum):
    """Whether an agent is logged in and takes work; the state is derived from it."""

    LOGGED_OUT = "logged_out"
    READY = "ready"
    PAUSED = "paused"


class AgentState(StrEnum):
    """What supervisors see; derived from presence and the work an agent holds."""

    LOGGED_OUT = "logged_out"
    READY = "ready"
    RESERVED = "reserved"
    BUSY = "busy"
    WRAP_UP = "wrap_up"
    PAUSED = "paused"
    UNAVAILABLE = "unavailable"
    """Logged in, but the Asterisk node of its phone cannot be reached: no calls until it is."""


class Stage(StrEnum):
    """Where an interaction is in the core."""

    WAITING = "waiting"
    OFFERED = "offered"
    CONNECTED = "connected"
    SCHEDULED = "scheduled"
    """A callback out of the queue until its next attempt may start (gap, window)."""
    DONE = "done"


CALLER_HANGUP = "caller_hangup"
"""Disposition of a connected interaction the caller's side ended."""


class CallbackSource(StrEnum):
    """How a callback came to be (`CallbackAccepted.source`)."""

    REQUESTED = "requested"
    """The caller pressed the key while it waited."""
    EXIT = "exit"
    """A queue exit (`on_max_wait`, `on_max_length`, `on_empty`) says `callback`."""
    RESTORED = "restored"
    """Read back from the store after a restart."""


class CallbackResult(StrEnum):
    """How one attempt to reach the customer ended (`callback_attempts.result`)."""

    ANSWERED = "answered"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    FAILED = "failed"
    """Congestion, unreachable, or the agent hung up before the customer answered."""


class CallbackStatus(StrEnum):
    """Where a callback request stands (`callbacks.status`)."""

    WAITING = "waiting"
    DIALLING = "dialling"
    CONNECTED = "connected"
    FAILED = "failed"
    CANCELLED = "cancelled"
