"""What one node knows about Asterisk's channels: the callers it holds and the agent legs
it originated, with their states, plus the agents' devices.

Only what translation needs is kept here. The router's state is the truth about queues
and agents; after a reconnect this registry is checked against Asterisk's (snapshot.py),
and while connected now and then again (drift.py).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from cc_router.adapters.ami import actions as act


class CallerStage(StrEnum):
    WAITING = "waiting"
    """In the queue, also while an agent rings."""
    CONNECTED = "connected"
    DONE = "done"
    """Exited or ended; its Hangup is still to come."""


class LegState(StrEnum):
    SENDING = "sending"
    QUEUED = "queued"
    """Originate accepted; the agent rings."""
    UNKNOWN = "unknown"
    """The Originate's reply was lost with the connection: the snapshot after reconnecting
    settles it."""
    ANSWERED = "answered"
    CANCELLED = "cancelled"
    DONE = "done"


PENDING = frozenset({LegState.SENDING, LegState.QUEUED, LegState.UNKNOWN})
"""An offer whose agent has not answered yet and that the router still waits for."""
SETTLED = frozenset({LegState.DONE, LegState.CANCELLED})
"""Legs the router no longer waits for: forgotten once their channels are gone."""
LIVE = frozenset({LegState.SENDING, LegState.QUEUED, LegState.ANSWERED})
"""Legs that make the agent's phone busy because of the router (device states are not
the node's to report then)."""


@dataclass(slots=True, frozen=True)
class Arrival:
    """A caller on hold in ccr-inbound, as its CCREnqueue or a channel list describes it."""

    uid: str
    channel: str
    number: str
    caller_num: str
    caller_name: str
    lang: str
    caller_priority: str
    arrived: float | None = None
    """When it entered the hold (CCR_ARRIVED): a router started later keeps its place."""
    held_since: float | None = None
    """Connected and held by its agent since then (CCR_HELD, set by the router)."""
    hold_s: float = 0.0
    """Its earlier holds' time (CCR_HOLD_S, set by the router)."""


@dataclass(slots=True, frozen=True)
class AdoptedLeg:
    """An agent leg an earlier router process placed for a caller, found on Asterisk
    with the interaction, agent and offer it carries as channel variables."""

    uid: str
    iid: str
    agent_id: str
    offer_id: str
    bridged: bool
    """In the caller's bridge (connected), else still ringing."""
    answered_at: float | None
    """CCR_ANSWERED: when the agent answered, stamped by ccr-agent."""


@dataclass(slots=True, eq=False)
class CallerLeg:
    """A caller channel in ccr-inbound that the router knows as an interaction."""

    iid: str
    uniqueid: str
    channel: str
    number: str
    queue: str
    caller_num: str
    caller_name: str
    stage: CallerStage = CallerStage.WAITING
    agent_leg: AgentLeg | None = None
    held: bool = False
    """Connected and hearing music on hold: the agent holds it (events_in.py)."""
    held_at: float = 0.0
    """Since when it is held (while `held`)."""
    hold_s: float = 0.0
    """Of its earlier holds, the time already over."""


@dataclass(slots=True, eq=False)
class AgentLeg:
    """An Originate towards an agent for one offer."""

    offer_id: str
    iid: str
    agent_id: str
    queue: str
    channel_id: str
    other_id: str
    action_id: str
    sent_at: float
    state: LegState = LegState.SENDING
    alive: set[str] = field(default_factory=set)
    """Uniqueids of this leg's channels seen and not hung up yet."""


class Registry:
    """Callers by Uniqueid and interaction id, agent legs by offer, channel and action id,
    recent Hangups, and which devices and endpoints belong to which of the node's agents."""

    RECENT_HANGUPS = 4096

    def __init__(self, run_token: str) -> None:
        self.run_token = run_token
        """Part of every agent-leg id this node makes (`ccr-<token>-<n>`)."""
        self.leg_seq = 0
        self.callers: dict[str, CallerLeg] = {}  # by caller Uniqueid
        self.by_iid: dict[str, CallerLeg] = {}
        self.legs: dict[str, AgentLeg] = {}  # by offer id
        self.leg_by_uid: dict[str, AgentLeg] = {}  # channel_id and other_id
        self.leg_by_action: dict[str, AgentLeg] = {}
        self.recent_hangups: deque[str] = deque(maxlen=self.RECENT_HANGUPS)
        self._recent_set: set[str] = set()
        self.device_agent: dict[str, str] = {}
        self.endpoint_agent: dict[str, str] = {}
        self.device_busy: dict[str, bool] = {}
        """What the node last told the router about each agent's phone."""
        self.blocked: set[str] = set()
        """Agents this node marked in use while it could not reach Asterisk."""
        self.device_events: dict[str, int] = {}
        """DeviceStateChange events seen per agent: a drift check's list is stale if this moved."""

    # ------------------------------------------------------------------ callers

    def add_caller(self, caller: CallerLeg, *, routed: bool = True) -> None:
        """`routed`: known to the router (else only held until its Hangup, e.g. sent to exit)."""
        self.callers[caller.uniqueid] = caller
        if routed:
            self.by_iid[caller.iid] = caller

    def drop_caller(self, caller: CallerLeg) -> None:
        self.callers.pop(caller.uniqueid, None)
        if self.by_iid.get(caller.iid) is caller:
            del self.by_iid[caller.iid]

    def knows(self, uid: str) -> bool:
        """A caller already held, or a channel whose Hangup came lately (not to be revived)."""
        return uid in self.callers or uid in self._recent_set

    # ------------------------------------------------------------------ agent legs

    def next_leg_id(self) -> str:
        self.leg_seq += 1
        return f"{act.LEG_ID_PREFIX}{self.run_token}-{self.leg_seq}"

    def is_own_leg(self, uid: str) -> bool:
        """A channel id this node chose for an agent leg (this run's, offered or not)."""
        return uid.startswith(f"{act.LEG_ID_PREFIX}{self.run_token}-")

    def add_leg(self, leg: AgentLeg) -> None:
        self.legs[leg.offer_id] = leg
        self.leg_by_uid[leg.channel_id] = leg
        self.leg_by_uid[leg.other_id] = leg
        self.leg_by_action[leg.action_id] = leg

    def forget_leg(self, leg: AgentLeg) -> None:
        self.legs.pop(leg.offer_id, None)
        for uid in (leg.channel_id, leg.other_id):
            if self.leg_by_uid.get(uid) is leg:
                del self.leg_by_uid[uid]
        if self.leg_by_action.get(leg.action_id) is leg:
            del self.leg_by_action[leg.action_id]

    def has_router_call(self, agent_id: str) -> bool:
        return any(
            leg.agent_id == agent_id and (leg.alive or leg.state in LIVE) for leg in self.legs.values()
        )

    # ------------------------------------------------------------------ hangups

    def remember_hangup(self, uid: str) -> None:
        if len(self.recent_hangups) == self.recent_hangups.maxlen:
            self._recent_set.discard(self.recent_hangups[0])
        self.recent_hangups.append(uid)
        self._recent_set.add(uid)

    def hung_up_recently(self, uid: str) -> bool:
        return uid in self._recent_set

    # ------------------------------------------------------------------ devices

    def index_agents(self, agents: Iterable[tuple[str, str]]) -> None:
        """Map devices and endpoints to agents, from (agent id, endpoint) pairs."""
        self.device_agent.clear()
        self.endpoint_agent.clear()
        for aid, endpoint in agents:
            if not endpoint:
                continue
            tech, _, rest = endpoint.partition("/")
            resource = rest.split("/", 1)[0]
            if tech.upper() != "LOCAL":
                self.device_agent[f"{tech}/{resource}"] = aid
            self.endpoint_agent[resource] = aid

    def has_sip_agents(self) -> bool:
        return bool(self.device_agent)

    def agent_of_device(self, device: str) -> str | None:
        return self.device_agent.get(device)

    def agent_for(self, endpoint: str, caller_num: str, is_agent: Callable[[str], bool]) -> str | None:
        """The agent behind a feature code dialled from `endpoint` (or calling as `caller_num`)."""
        for key in (endpoint, caller_num):
            if not key:
                continue
            aid = self.endpoint_agent.get(key)
            if aid is not None:
                return aid
            if is_agent(key):
                return key
        return None
