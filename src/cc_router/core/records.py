"""Mutable per-agent, per-queue and per-interaction records the router keeps."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from cc_router.core.commands import Explanation
from cc_router.core.spec import AgentSpec, Channel, ProfileSpec, QueueSpec
from cc_router.core.vocabulary import AgentState, Presence, Stage

if TYPE_CHECKING:
    # Pools and buckets index these records; the records only point back at them.
    from cc_router.core.pools import Bucket, Pool

__all__ = ["AgentRec", "AgentState", "InteractionRec", "OfferRec", "Presence", "QueueRec", "Stage"]

# Enum members are read through EnumType's attribute hook, several times slower than a
# module global; the hot path compares against these instead.
_P_READY, _P_LOGGED_OUT, _P_PAUSED = Presence.READY, Presence.LOGGED_OUT, Presence.PAUSED
_LOGGED_OUT, _READY, _RESERVED = AgentState.LOGGED_OUT, AgentState.READY, AgentState.RESERVED
_BUSY, _WRAP_UP, _PAUSED = AgentState.BUSY, AgentState.WRAP_UP, AgentState.PAUSED
_UNAVAILABLE = AgentState.UNAVAILABLE
_VOICE = Channel.VOICE


@dataclass(slots=True)
class OfferRec:
    offer_id: str
    interaction_id: str
    agent_id: str
    channel: Channel
    created_at: float
    explanation: Explanation


@dataclass(slots=True, eq=False)
class AgentRec:
    spec: AgentSpec
    index: int
    profile: ProfileSpec
    presence: Presence = Presence.LOGGED_OUT
    pause_reason: str = ""
    pause_token: int = 0
    offer: OfferRec | None = None
    connected: dict[str, Channel] = field(default_factory=dict)
    wrapping: dict[str, Channel] = field(default_factory=dict)
    load: dict[Channel, int] = field(default_factory=dict)
    device_in_use: bool = False
    unreachable: str = ""
    """The node of its phone while that node cannot be reached (core/topology.py), else ""."""
    idle_since: float = 0.0
    handled: int = 0
    misses: int = 0
    token: int = 0
    state: AgentState = AgentState.LOGGED_OUT
    state_reason: str = ""
    state_since: float = 0.0
    # routing indexes, rebuilt with the centre
    pools: dict[Channel, list[Pool]] = field(default_factory=dict)
    buckets: dict[Channel, list[Bucket]] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def skills(self) -> Mapping[str, int]:
        return self.spec.skills

    def free_channels(self) -> list[Channel]:
        """Channels on which this agent can take an offer right now."""
        if self.presence is not _P_READY or self.offer is not None:
            return []
        blocks = self.profile.blocks
        blocked: set[Channel] = set()
        for ch, n in self.load.items():
            if n:
                blocked |= blocks.get(ch, frozenset())
        if (self.device_in_use or self.unreachable) and self.profile.capacity.get(_VOICE, 0):
            # A phone in use only matters to agents who take calls at all.
            blocked.add(_VOICE)
            blocked |= blocks.get(_VOICE, frozenset())
        return [
            ch
            for ch, cap in self.profile.capacity.items()
            if ch not in blocked and self.load.get(ch, 0) < cap
        ]

    def derive_state(self) -> tuple[AgentState, str]:
        if self.presence is _P_LOGGED_OUT and not self.connected and not self.wrapping:
            return _LOGGED_OUT, ""
        if self.connected:
            return _BUSY, ""
        if self.offer is not None:
            return _RESERVED, ""
        if self.wrapping:
            return _WRAP_UP, ""
        if self.unreachable:
            return _UNAVAILABLE, f"node {self.unreachable} unreachable"
        if self.presence is _P_PAUSED:
            return _PAUSED, self.pause_reason
        if self.presence is _P_LOGGED_OUT:
            return _LOGGED_OUT, ""
        if self.device_in_use:
            return _BUSY, "private call"
        return _READY, ""


@dataclass(slots=True, eq=False)
class QueueRec:
    spec: QueueSpec
    buckets: list[Bucket] = field(default_factory=list)
    waiting: int = 0

    @property
    def name(self) -> str:
        return self.spec.name


@dataclass(slots=True, eq=False)
class InteractionRec:
    id: str
    queue: QueueRec
    priority: int
    caller: str
    attributes: Mapping[str, str]
    arrived_at: float
    order_time: float
    """Seniority across queues: kept through overflow, moves and returns."""
    seq: int
    queue_joined_at: float
    join: int = 0
    """Bumped each time the interaction (re)joins a queue, so old timers can tell."""
    step: int = 0
    token: int = 0
    stage: Stage = Stage.WAITING
    offer: OfferRec | None = None
    agent_id: str | None = None
    offered_at: float | None = None
    answered_at: float | None = None
    misses: int = 0
    original_position: int = 0
    """Place in its queue when it joined (1 = nobody waiting ahead), as queue_log reports it."""
    hops: int = 0
    excluded: dict[str, float] = field(default_factory=dict)
    bucket: Bucket | None = None
    target_agent: str | None = None
    """Set while the interaction waits for one agent only (a transfer to that agent)."""
    explanation: Explanation | None = None
    callback_attempts: int | None = None
    """Not None once the interaction is a callback: the attempts made to reach it."""
    hold_s: float = 0.0
    """Hold time of this visit's holds that are over."""
    held_since: float | None = None
    """When the hold going on began; None: not on hold."""

    @property
    def channel(self) -> Channel:
        return self.queue.spec.channel
