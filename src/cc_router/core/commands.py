"""What the core asks for. Adapters carry these out; the store and surfaces record them.

Commands are values: nothing assigns to one once the core has made it, and every sink
sees the same objects. They are not `frozen` dataclasses because a frozen one sets each
field through `object.__setattr__`: at 20,000 agents that was a quarter of the core's
instructions per event (callgrind, `python -m cc_router.bench core`). `unsafe_hash`
keeps them hashable by value, as frozen ones were.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from cc_router.core.spec import Channel, ExitTarget
from cc_router.core.vocabulary import (
    AgentState,
    CallbackResult,
    CallbackSource,
    CancelReason,
    ExitReason,
    Outcome,
    QueueReason,
    RejectCode,
    RemoteChoice,
    Trigger,
)


@dataclass(slots=True, unsafe_hash=True)
class Explanation:
    """Why an offer went where it went, in terms a supervisor can check."""

    trigger: Trigger
    queue: str
    strategy: str
    step: int
    requirement: str
    chosen: str
    score: tuple[float, ...]
    candidates: tuple[tuple[str, tuple[float, ...]], ...]
    """The best few candidates examined, best first (agents, or interactions when an agent
    became free), with their ordering keys; the chosen one is first."""
    excluded: tuple[tuple[str, str], ...]
    """Candidates skipped and why (e.g. missed this interaction recently)."""
    available: int
    """Free eligible agents (or waiting eligible interactions) seen when deciding."""
    remote: RemoteChoice | None = None
    """Set when the agent is on another Asterisk node than the caller: why it was chosen."""
    route: str = ""
    """`caller node->agent node` for such an offer (over their trunk), else empty."""

    def summary(self) -> str:
        text = (
            f"{self.trigger}: {self.strategy} step {self.step} [{self.requirement}] "
            f"chose {self.chosen} of {self.available}"
        )
        return f"{text}; remote {self.route} ({self.remote})" if self.remote is not None else text


@dataclass(slots=True, unsafe_hash=True)
class Offer:
    offer_id: str
    interaction_id: str
    agent_id: str
    queue: str
    channel: Channel
    timeout_s: float
    explanation: Explanation


@dataclass(slots=True, unsafe_hash=True)
class CancelOffer:
    """Stop ringing the agent (the caller left, or the core gave up waiting)."""

    offer_id: str
    interaction_id: str
    agent_id: str
    reason: CancelReason


@dataclass(slots=True, unsafe_hash=True)
class InteractionQueued:
    interaction_id: str
    queue: str
    channel: Channel
    step: int
    reason: QueueReason
    at: float
    original_position: int = 0


@dataclass(slots=True, unsafe_hash=True)
class InteractionConnected:
    interaction_id: str
    agent_id: str
    queue: str
    channel: Channel
    wait_s: float
    at: float


@dataclass(slots=True, unsafe_hash=True)
class ExitInteraction:
    """Take the interaction out of routing and send it to `target`."""

    interaction_id: str
    queue: str
    target: ExitTarget | None
    reason: ExitReason


@dataclass(slots=True, unsafe_hash=True)
class InteractionFinished:
    """The whole life of one interaction in one queue, for the store and reports."""

    interaction_id: str
    queue: str
    channel: Channel
    caller: str
    outcome: Outcome
    agent_id: str | None
    enqueued_at: float
    offered_at: float | None
    answered_at: float | None
    ended_at: float
    wait_s: float
    talk_s: float
    step: int
    misses: int
    disposition: str
    explanation: Explanation | None
    original_position: int = 0
    hold_s: float = 0.0
    """Of `talk_s`, the seconds the agent held the caller (InteractionHeld to
    InteractionResumed, or to the end). Last, with a default: the journal rebuilds commands
    from positional records, and older records have no such field."""


@dataclass(slots=True, unsafe_hash=True)
class AgentStateChanged:
    agent_id: str
    state: AgentState
    reason: str
    at: float
    previous: AgentState
    previous_since: float
    restored: bool = False
    """The state a restarted router read back (a stored session, or a call adopted from
    Asterisk): not a change on the floor, so nothing outside the store says it again
    (queue_log)."""


@dataclass(slots=True, unsafe_hash=True)
class WrapUpEnded:
    """The agent's wrap-up after one interaction is over: its slot on `channel` is free.

    Said even when the agent's state stays the same (still busy on a second chat), so
    whoever counts slots never has to keep a copy of the core's wrap-up timers."""

    agent_id: str
    interaction_id: str
    channel: Channel
    at: float


@dataclass(slots=True, unsafe_hash=True)
class CallbackAccepted:
    """The interaction is now a callback in `queue`, at the place it had (priority,
    seniority `since`): record it, and tell the caller (it hangs up after that)."""

    interaction_id: str
    queue: str
    priority: int
    since: float
    caller: str
    source: CallbackSource
    attempts: int
    at: float


@dataclass(slots=True, unsafe_hash=True)
class CallbackDialling:
    """A callback's agent answered: attempt `attempt` dials the customer now."""

    interaction_id: str
    queue: str
    agent_id: str
    attempt: int
    at: float


@dataclass(slots=True, unsafe_hash=True)
class CallbackAttempted:
    """How attempt `attempt` ended; `next_at` is when the next may start (None: no more,
    the callback is connected or has failed)."""

    interaction_id: str
    queue: str
    agent_id: str
    attempt: int
    result: CallbackResult
    next_at: float | None
    at: float


@dataclass(slots=True, unsafe_hash=True)
class EventRejected:
    """The event could not be applied; the core state is unchanged by it."""

    event: object
    code: RejectCode
    reason: str
    """The same for people: names the agent, interaction or queue concerned."""


Command = (
    Offer
    | CancelOffer
    | InteractionQueued
    | InteractionConnected
    | ExitInteraction
    | InteractionFinished
    | AgentStateChanged
    | WrapUpEnded
    | CallbackAccepted
    | CallbackDialling
    | CallbackAttempted
    | EventRejected
)


def rejection(commands: Iterable[Command], event: object) -> EventRejected | None:
    """The core's refusal of `event` among `commands`, if it refused it."""
    for c in commands:
        if type(c) is EventRejected and c.event is event:
            return c
    return None
