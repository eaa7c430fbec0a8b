"""Immutable descriptions of a centre (what config becomes), consumed by the core."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from cc_router.core.callbacks import CallbackPolicy
from cc_router.core.vocabulary import Locality


class Channel(StrEnum):
    VOICE = "voice"
    CHAT = "chat"
    EMAIL = "email"
    SMS = "sms"
    FAX = "fax"


class Strategy(StrEnum):
    LONGEST_IDLE = "longest_idle"
    FEWEST_INTERACTIONS = "fewest_interactions"
    ROUND_ROBIN = "round_robin"
    LINEAR = "linear"
    RANDOM = "random"
    WEIGHTED_RANDOM = "weighted_random"
    BEST_SKILL = "best_skill"


class ExitKind(StrEnum):
    QUEUE = "queue"
    VOICEMAIL = "voicemail"
    CALLBACK = "callback"
    HANGUP = "hangup"


@dataclass(frozen=True, slots=True)
class ExitTarget:
    kind: ExitKind
    value: str = ""

    @classmethod
    def parse(cls, text: str) -> ExitTarget:
        """`queue:NAME`, `voicemail:BOX`, `callback` or `hangup`."""
        kind, _, value = text.partition(":")
        try:
            exit_kind = ExitKind(kind.strip())
        except ValueError:
            raise ValueError(
                f"unknown exit target {text!r}: use queue:NAME, voicemail:BOX, callback or hangup"
            ) from None
        value = value.strip()
        if exit_kind in (ExitKind.QUEUE, ExitKind.VOICEMAIL) and not value:
            raise ValueError(f"exit target {text!r} needs a value after ':'")
        return cls(exit_kind, value)

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}" if self.value else str(self.kind)


DEFAULT_CAPACITY: Mapping[Channel, int] = {Channel.VOICE: 1}


def default_blocks() -> dict[Channel, frozenset[Channel]]:
    """Voice is exclusive: a call blocks all other work and any other work blocks calls."""
    others = frozenset(c for c in Channel if c is not Channel.VOICE)
    blocks: dict[Channel, frozenset[Channel]] = {Channel.VOICE: others}
    for c in others:
        blocks[c] = frozenset({Channel.VOICE})
    return blocks


@dataclass(frozen=True, slots=True)
class ProfileSpec:
    """How much work of each channel an agent holds at once, and what blocks what."""

    name: str
    capacity: Mapping[Channel, int] = field(default_factory=lambda: dict(DEFAULT_CAPACITY))
    # blocks[a] = channels that cannot be offered while the agent holds work on channel a
    blocks: Mapping[Channel, frozenset[Channel]] = field(default_factory=default_blocks)


@dataclass(frozen=True, slots=True)
class AgentSpec:
    id: str
    name: str = ""
    pool: str = "default"
    profile: str = "voice"
    skills: Mapping[str, int] = field(default_factory=dict)
    weight: float = 1.0
    endpoint: str = ""


@dataclass(frozen=True, slots=True)
class StepSpec:
    """After `after_s` seconds in the queue the requirement widens by OR-ing this one in."""

    after_s: float
    requirement: str
    priority_boost: int = 0


@dataclass(frozen=True, slots=True)
class QueueSpec:
    name: str
    channel: Channel = Channel.VOICE
    requirement: str = "true"
    priority: int = 0
    strategy: Strategy = Strategy.LONGEST_IDLE
    service_level_s: float = 20.0
    wrapup_s: float = 0.0
    ring_timeout_s: float = 15.0
    max_wait_s: float | None = None
    max_length: int | None = None
    on_max_wait: ExitTarget | None = None
    on_max_length: ExitTarget | None = None
    on_empty: ExitTarget | None = None
    steps: tuple[StepSpec, ...] = ()
    callback: CallbackPolicy | None = None
    """Callbacks that keep the caller's place (None: a `callback` exit just ends the call)."""
    locality: Locality = Locality.PREFER
    """With several Asterisk nodes: how much the caller's own node counts (core/topology.py)."""


@dataclass(frozen=True, slots=True)
class RoutingSpec:
    max_misses: int = 3
    """Consecutive missed offers after which an agent is paused with `miss_pause_reason`."""
    miss_pause_reason: str = "no_answer"
    miss_exclusion_s: float = 30.0
    """How long an agent who missed an interaction is not offered that same one again."""
    direct_fallback_s: float = 60.0
    """How long an interaction transferred to one agent waits for them before the queue."""
    offer_grace_s: float = 2.0
    """Added to an offer's timeout before the core gives up on hearing back from the adapter."""
    seed: int = 0
    timezone: str = "UTC"
    """IANA zone of the centre: callbacks are made in its local window of hours."""


@dataclass(frozen=True, slots=True)
class TrunkSpec:
    a: str
    b: str
    max_calls: int | None = None
    """Calls (ringing or connected) over this trunk at once; None: no limit."""

    @property
    def key(self) -> tuple[str, str]:
        return trunk_key(self.a, self.b)


def trunk_key(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a <= b else (b, a)


@dataclass(frozen=True, slots=True)
class TopologySpec:
    """Where seat pools are and the trunks between nodes (see core/topology.py)."""

    pool_node: Mapping[str, str] = field(default_factory=dict)
    """Seat pool -> node its agents' phones are on."""
    trunks: tuple[TrunkSpec, ...] = ()

    @property
    def nodes(self) -> frozenset[str]:
        return frozenset(self.pool_node.values())


@dataclass(frozen=True, slots=True)
class CentreSpec:
    skills: frozenset[str]
    profiles: Mapping[str, ProfileSpec]
    agents: tuple[AgentSpec, ...]
    queues: tuple[QueueSpec, ...]
    routing: RoutingSpec = field(default_factory=RoutingSpec)
    topology: TopologySpec = field(default_factory=TopologySpec)

    def queue(self, name: str) -> QueueSpec | None:
        for q in self.queues:
            if q.name == name:
                return q
        return None
