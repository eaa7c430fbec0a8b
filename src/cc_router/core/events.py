"""What the core is told. Each event is handled with the time it happened at."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from cc_router.core.spec import CentreSpec, QueueSpec
from cc_router.core.vocabulary import CallbackResult


@dataclass(frozen=True, slots=True)
class AgentLoggedIn:
    agent_id: str


@dataclass(frozen=True, slots=True)
class AgentLoggedOut:
    agent_id: str


@dataclass(frozen=True, slots=True)
class AgentPaused:
    agent_id: str
    reason: str = "break"
    max_s: float | None = None
    """With a maximum, the agent returns to ready by itself when it runs out."""


@dataclass(frozen=True, slots=True)
class AgentUnpaused:
    agent_id: str


@dataclass(frozen=True, slots=True)
class AgentDeviceChanged:
    """The agent's phone is in use by something the router did not put there."""

    agent_id: str
    in_use: bool


@dataclass(frozen=True, slots=True)
class AgentSkillsChanged:
    agent_id: str
    skills: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class AgentWrapUpDone:
    """The agent ends wrap-up early (all channels)."""

    agent_id: str


@dataclass(frozen=True, slots=True)
class AgentSessionRestored:
    """An agent's presence as it was stored before the router restarted.

    `since` is when the agent entered it, so time in state and idle order continue; a
    pause with `max_s` still ends at `since + max_s`. Only a logged-out agent is restored."""

    agent_id: str
    paused: bool
    since: float
    reason: str = ""
    max_s: float | None = None


@dataclass(frozen=True, slots=True)
class InteractionArrived:
    interaction_id: str
    queue: str
    priority: int = 0
    caller: str = ""
    attributes: Mapping[str, str] = field(default_factory=dict)
    since: float | None = None
    """When it first arrived, if earlier than now (work resumed after a restart keeps
    its seniority and its wait)."""
    agent_id: str | None = None
    """Offer it first to this agent only (the one who served the customer's thread before),
    if logged in and able to take the channel; not taken within `agent_wait_s` (declined,
    timed out, or not free), it waits in `queue` like any other, its wait counted from
    arrival."""
    agent_wait_s: float | None = None
    """How long the named agent has first; None: `RoutingSpec.direct_fallback_s`."""


@dataclass(frozen=True, slots=True)
class InteractionAdopted:
    """A call found in progress when the router (re)starts: an agent leg it placed before
    is ringing for the caller (`answered_at` None: a pending offer under `offer_id`) or
    bridged to it (connected since `answered_at`). The interaction takes up where it was,
    never queued or offered again; its end is recorded once, with its original times."""

    interaction_id: str
    queue: str
    agent_id: str
    offer_id: str
    arrived_at: float
    answered_at: float | None = None
    priority: int = 0
    caller: str = ""
    attributes: Mapping[str, str] = field(default_factory=dict)
    held_since: float | None = None
    """Connected and on hold since then (the agent held the caller before the restart)."""
    hold_s: float = 0.0
    """Hold time of this call's earlier holds, already over."""


@dataclass(frozen=True, slots=True)
class InteractionAbandoned:
    """The caller or customer went away before being connected (or while connected)."""

    interaction_id: str


@dataclass(frozen=True, slots=True)
class OfferAccepted:
    interaction_id: str
    agent_id: str


@dataclass(frozen=True, slots=True)
class OfferDeclined:
    interaction_id: str
    agent_id: str
    reason: str = "no_answer"
    """no_answer, rejected, busy, failed, timeout"""


@dataclass(frozen=True, slots=True)
class InteractionEnded:
    interaction_id: str
    disposition: str = ""


@dataclass(frozen=True, slots=True)
class InteractionMoved:
    """A supervisor moves a waiting interaction to another queue (it keeps its seniority)."""

    interaction_id: str
    queue: str


@dataclass(frozen=True, slots=True)
class InteractionTransferred:
    """An agent hands a connected interaction to another queue, or to one agent in it.

    With `agent_id` only that agent is offered it; if they do not take it (declined,
    timed out, or not free within `RoutingSpec.direct_fallback_s`) it waits in `queue`
    like any other interaction."""

    interaction_id: str
    queue: str
    agent_id: str | None = None


@dataclass(frozen=True, slots=True)
class InteractionPriorityChanged:
    """A supervisor gives a waiting interaction another priority: its place in every
    queue's serving order follows at once (seniority kept)."""

    interaction_id: str
    priority: int


@dataclass(frozen=True, slots=True)
class InteractionHeld:
    """The agent put the connected caller on hold (the caller hears music on hold).

    The time until `InteractionResumed`, or until the call ends, is the visit's hold time
    (`InteractionFinished.hold_s`); a second one while held changes nothing."""

    interaction_id: str


@dataclass(frozen=True, slots=True)
class InteractionResumed:
    """The agent took the caller off hold; without a hold going on it changes nothing."""

    interaction_id: str


@dataclass(frozen=True, slots=True)
class CallbackRequested:
    """A waiting caller asks to be called back (pressed the key): it keeps its place."""

    interaction_id: str


@dataclass(frozen=True, slots=True)
class NodeDown:
    """An Asterisk node cannot be reached: its agents take no calls (they stay logged in)."""

    node: str


@dataclass(frozen=True, slots=True)
class NodeUp:
    """The node is reachable again (its state read back): its agents take calls again."""

    node: str


@dataclass(frozen=True, slots=True)
class TrunkDown:
    """The trunk between two nodes carries no new calls (its far end does not answer)."""

    node: str
    other: str


@dataclass(frozen=True, slots=True)
class TrunkUp:
    node: str
    other: str


@dataclass(frozen=True, slots=True)
class InteractionDropped:
    """The PBX lost the call (its node failed), waiting or connected: not the caller's doing."""

    interaction_id: str


@dataclass(frozen=True, slots=True)
class CallbackRestored:
    """A callback read back from the store after a restart: same id, place and attempts."""

    interaction_id: str
    queue: str
    priority: int
    since: float
    caller: str = ""
    attempts: int = 0
    not_before: float | None = None
    """Its next attempt may not start before this (the gap after the last one)."""


@dataclass(frozen=True, slots=True)
class CallbackAttemptEnded:
    """The customer of a callback being dialled answered, or could not be reached."""

    interaction_id: str
    result: CallbackResult


@dataclass(frozen=True, slots=True)
class QueueChanged:
    queue: QueueSpec


@dataclass(frozen=True, slots=True)
class CentreReplaced:
    centre: CentreSpec


@dataclass(frozen=True, slots=True)
class Tick:
    """Only moves time on: timers that are due fire."""


Event = (
    AgentLoggedIn
    | AgentLoggedOut
    | AgentPaused
    | AgentUnpaused
    | AgentDeviceChanged
    | AgentSkillsChanged
    | AgentWrapUpDone
    | AgentSessionRestored
    | InteractionArrived
    | InteractionAdopted
    | InteractionAbandoned
    | OfferAccepted
    | OfferDeclined
    | InteractionEnded
    | InteractionMoved
    | InteractionTransferred
    | InteractionPriorityChanged
    | InteractionHeld
    | InteractionResumed
    | CallbackRequested
    | CallbackRestored
    | CallbackAttemptEnded
    | NodeDown
    | NodeUp
    | TrunkDown
    | TrunkUp
    | InteractionDropped
    | QueueChanged
    | CentreReplaced
    | Tick
)
