"""Where an AMI event becomes a core event.

`AmiToCore.feed(name, frame, now)` takes one AMI message (raw bytes, as the connection
splits them) and returns what it means, in order: core events to submit and actions to
send (`actions.Effect`), updating the registry as it goes. It does no IO and does not
call the core, so a recorded stream can be fed to it directly (tests/ami/test_translate.py).
The node (node.py) submits the events and sends the actions.

The methods the snapshot and drift checks use (`caller_vanished`, `leg_failed`, ...) are
the same translation for a difference found in a channel list instead of an event.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable
from enum import StrEnum
from typing import Protocol

import structlog

from cc_router.adapters.ami import actions as act
from cc_router.adapters.ami.effects import (
    NOTHING,
    DropCaller,
    Effect,
    Effects,
    LogLine,
    ReplyHandler,
    Send,
    given,
    hangup_unless_moved,
)
from cc_router.adapters.ami.outage import Outage, caller_dropped
from cc_router.adapters.ami.protocol import Message, header, parse_frame
from cc_router.adapters.ami.registry import (
    PENDING,
    SETTLED,
    AdoptedLeg,
    AgentLeg,
    Arrival,
    CallerLeg,
    CallerStage,
    LegState,
    Registry,
)
from cc_router.adapters.ami.trunk import REACHABLE, UNREACHABLE, peer_of_aor
from cc_router.config import Config
from cc_router.config.models import AsteriskNode
from cc_router.core import Router
from cc_router.core import events as ev
from cc_router.core.topology import NODE_ATTRIBUTE
from cc_router.core.vocabulary import CALLER_HANGUP, DeclineReason
from cc_router.store import queue_log as qlog

log = structlog.get_logger("cc_router.ami.node")

DEVICE_BUSY = frozenset({"INUSE", "BUSY", "RINGING", "RINGINUSE", "ONHOLD"})
DEVICE_FREE = frozenset({"NOT_INUSE"})

LITE_USER_EVENTS: dict[str, tuple[str, ...]] = {"CCRAgentAnswered": ("Uniqueid", "IID", "Agent")}
"""UserEvents whose handler reads only these headers (unless a hook wants the whole message)."""


class Ended(StrEnum):
    """Who ended a connected call (`InteractionEnded.disposition`)."""

    CALLER = CALLER_HANGUP
    AGENT = "agent_hangup"
    UNKNOWN = "unknown_hangup"
    """Found ended by a snapshot or drift check: its Hangups were missed."""


def arrival_stamp(value: str) -> float | None:
    """An epoch time the dialplan stamped (`CCR_ARRIVED`: seconds with milliseconds)."""
    with contextlib.suppress(ValueError):
        t = float(value)
        if t > 0:
            return t
    return None


def adopted_action(channel_id: str) -> str:
    """The stand-in ActionID of an adopted leg (its Originate was another process's)."""
    return f"{channel_id}-adopted"


def device_busy_of(state: str) -> bool | None:
    """A DeviceState as busy (True), free (False) or neither (None: unavailable, unknown)."""
    return True if state in DEVICE_BUSY else False if state in DEVICE_FREE else None


class Setup(Protocol):
    """What the translators read of the service (live: a config reload replaces `config`)."""

    @property
    def config(self) -> Config: ...

    @property
    def router(self) -> Router: ...


FrameHandler = Callable[[bytes, float], Effects]
MessageHandler = Callable[[Message, float], Effects]


class AmiToCore:
    """AMI events of one node -> core events (and the few actions events call for)."""

    def __init__(self, registry: Registry, setup: Setup, spec: AsteriskNode, *, prefix: str) -> None:
        self.registry = registry
        self.setup = setup
        self.spec = spec
        self.node = spec.name
        self.prefix = prefix
        """Interaction id prefix (`<node>.` with several nodes, else empty)."""
        self.exit_unknown_numbers = True
        """False where several routers share one Asterisk (tests): leave others' callers alone."""
        self.outage = Outage(spec.name)
        self.tag_node = bool(prefix)
        """Callers carry their node (several nodes: the core routes by it)."""
        self.handlers: dict[str, FrameHandler] = {
            "UserEvent": self._on_user_event,
            "Hangup": self._on_hangup,
            "BridgeLeave": self._on_bridge_leave,
            "OriginateResponse": self._on_originate_response,
            "DeviceStateChange": self._on_device_state,
            "Newchannel": self._on_newchannel,
            "Shutdown": self._on_shutdown,
            "ContactStatus": self._on_contact_status,
            "MusicOnHoldStart": self._on_moh_start,
            "MusicOnHoldStop": self._on_moh_stop,
        }
        self.trunks_down: set[str] = set()
        """Other nodes whose trunk from here does not answer its qualify (OPTIONS)."""
        self.user_handlers: dict[str, MessageHandler] = {
            "CCREnqueue": self._on_enqueue,
            "CCRAgentAnswered": self._on_agent_answered,
            "CCRAgentOrphan": self._on_agent_orphan,
            "CCRAgentFeature": self._on_agent_feature,
        }

    # ------------------------------------------------------------------ entry points

    def feed(self, name: str, frame: bytes, now: float) -> Effects:
        """One AMI message (`name` is its Event) -> effects, in order."""
        handler = self.handlers.get(name)
        return NOTHING if handler is None else handler(frame, now)

    def user_message(self, msg: Message, now: float) -> Effects:
        """A UserEvent already parsed whole (the node parses it once for its hooks too)."""
        handler = self.user_handlers.get(msg.get("UserEvent", ""))
        return NOTHING if handler is None else handler(msg, now)

    def _on_user_event(self, frame: bytes, now: float) -> Effects:
        name = header(frame, b"UserEvent: ")
        handler = self.user_handlers.get(name)
        if handler is None:
            return NOTHING
        msg: Message
        if name in LITE_USER_EVENTS:
            # Uniqueid routes it; the rest is for a debug line.
            msg = {k: header(frame, f"{k}: ".encode()) for k in LITE_USER_EVENTS[name]}
        else:
            msg = parse_frame(frame)
        return handler(msg, now)

    # ------------------------------------------------------------------ callers

    def _on_enqueue(self, msg: Message, now: float) -> Effects:
        uid = msg.get("Uniqueid", "")
        if not uid or uid in self.registry.callers:
            return NOTHING
        return self.admit(
            Arrival(
                uid=uid,
                channel=msg.get("Channel", ""),
                number=msg.get("Number", ""),
                caller_num=msg.get("CallerNum", ""),
                caller_name=msg.get("CallerName", ""),
                lang=msg.get("Lang", ""),
                caller_priority=msg.get("CallerPriority", ""),
                arrived=arrival_stamp(msg.get("Arrived", "")),
            )
        )

    def admit(self, a: Arrival, adopted: AdoptedLeg | None = None) -> Effects:
        """A caller on hold becomes an interaction (from CCREnqueue, or found in a channel
        list); with `adopted`, an agent leg an earlier router process placed for it is ringing
        or bridged to it: the call is adopted as it is, not queued again."""
        if a.uid in self.outage.dropped:
            # Recorded pbx_dropped while its node was thought dead; admitting it again would
            # record it twice. It cannot be served as the record says, so it is ended.
            log.warning("ami_dropped_caller_found", node=self.node, channel=a.channel)
            return (Send(act.hangup(a.channel)),)
        route = self.setup.config.numbers.get(a.number)
        iid = f"{self.prefix}{a.uid}"
        if route is None and not self.exit_unknown_numbers:
            log.debug("ami_foreign_number_ignored", node=self.node, number=a.number, channel=a.channel)
            return NOTHING
        registry = self.registry
        if route is None:
            log.warning(
                "ami_unknown_number", node=self.node, number=a.number, channel=a.channel,
                hint="add it under `numbers:` in the config; the caller is sent to ccr-exit,hangup",
            )  # fmt: skip
            leg = CallerLeg(iid, a.uid, a.channel, a.number, "", a.caller_num, a.caller_name)
            leg.stage = CallerStage.DONE
            registry.add_caller(leg, routed=False)
            return (Send(act.redirect(a.channel, "hangup"), self.hangup_unless_moved(leg)),)
        priority = route.priority
        with contextlib.suppress(ValueError):
            priority += int(a.caller_priority.strip() or "0")
        attributes = dict(route.attributes)
        attributes.update(number=a.number, caller_num=a.caller_num, caller_name=a.caller_name)
        if a.lang:
            attributes["lang"] = a.lang
        if self.tag_node:
            # Several nodes: the core routes by where the caller is (core/topology.py).
            attributes[NODE_ATTRIBUTE] = self.node
        caller = f"{a.caller_name} <{a.caller_num}>" if a.caller_name else a.caller_num
        held = CallerLeg(iid, a.uid, a.channel, a.number, route.queue, a.caller_num, a.caller_name)
        registry.add_caller(held)
        if adopted is not None and adopted.iid == iid:
            return self._adopt(held, a, adopted, priority, caller, attributes)
        return (ev.InteractionArrived(iid, route.queue, priority, caller, attributes, since=a.arrived),)

    def _adopt(
        self,
        held: CallerLeg,
        a: Arrival,
        found: AdoptedLeg,
        priority: int,
        caller: str,
        attributes: dict[str, str],
    ) -> Effects:
        now = time.time()
        leg = AgentLeg(
            found.offer_id,
            held.iid,
            found.agent_id,
            held.queue,
            found.uid,
            f"{found.uid}-2",
            adopted_action(found.uid),
            now,
            LegState.ANSWERED if found.bridged else LegState.QUEUED,
            {found.uid},
        )
        self.registry.add_leg(leg)
        held.agent_leg = leg
        answered_at: float | None = None
        held_since: float | None = None
        if found.bridged:
            held.stage = CallerStage.CONNECTED
            # A dialplan without the answer stamp: the call is at least this old.
            answered_at = found.answered_at or now
            held.hold_s = a.hold_s
            if a.held_since is not None:
                # On hold when the router stopped: its MusicOnHoldStop will end that hold.
                held.held, held.held_at, held_since = True, a.held_since, a.held_since
        log.info(
            "ami_call_adopted",
            node=self.node,
            iid=held.iid,
            agent=found.agent_id,
            offer=found.offer_id,
            connected=found.bridged,
        )
        return (
            ev.InteractionAdopted(
                held.iid,
                held.queue,
                found.agent_id,
                found.offer_id,
                a.arrived if a.arrived is not None else now,
                answered_at,
                priority,
                caller,
                attributes,
                held_since,
                a.hold_s if found.bridged else 0.0,
            ),
        )

    def hangup_unless_moved(self, caller: CallerLeg) -> ReplyHandler:
        callers = self.registry.callers
        return hangup_unless_moved(caller.channel, lambda: caller.uniqueid in callers)

    def _on_hangup(self, frame: bytes, now: float) -> Effects:
        uid = header(frame, b"Uniqueid: ")
        registry = self.registry
        registry.remember_hangup(uid)
        caller = registry.callers.get(uid)
        if caller is not None:
            return self._caller_gone(caller, Ended.CALLER)
        leg = registry.leg_by_uid.get(uid)
        if leg is None:
            return NOTHING
        leg.alive.discard(uid)
        if not leg.alive and leg.state in PENDING and leg.action_id == adopted_action(leg.channel_id):
            # No OriginateResponse comes for a leg another process originated.
            return self.leg_failed(leg, DeclineReason.NO_ANSWER, "adopted agent leg hung up", now)
        out = self._agent_side_left(leg)
        if not leg.alive and leg.state in SETTLED:
            registry.forget_leg(leg)
        return out

    def _caller_gone(self, caller: CallerLeg, side: Ended) -> Effects:
        out: list[Effect] = []
        if caller.stage is CallerStage.CONNECTED:
            out += self._end_connected(caller, side)
        elif caller.stage is CallerStage.WAITING:
            caller.stage = CallerStage.DONE
            out.append(ev.InteractionAbandoned(caller.iid))
        out.append(DropCaller(caller))
        return out

    def _end_connected(self, caller: CallerLeg, side: Ended) -> Effects:
        # The first leg to leave the bridge (or hang up) tells who ended the call;
        # BridgeLeave and Hangup of the two legs come in no guaranteed order.
        caller.stage = CallerStage.DONE
        leg = caller.agent_leg
        if leg is not None:
            leg.state = LegState.DONE
        return (ev.InteractionEnded(caller.iid, side),)

    def _agent_side_left(self, leg: AgentLeg) -> Effects:
        if leg.state is not LegState.ANSWERED:
            return NOTHING
        caller = self.registry.by_iid.get(leg.iid)
        if caller is not None and caller.stage is CallerStage.CONNECTED:
            return self._end_connected(caller, Ended.AGENT)
        leg.state = LegState.DONE
        return NOTHING

    def _on_bridge_leave(self, frame: bytes, now: float) -> Effects:
        if header(frame, b"BridgeTechnology: ") == act.HOLDING_BRIDGE:
            return NOTHING  # the caller leaving the hold for the agent bridge (or hanging up)
        uid = header(frame, b"Uniqueid: ")
        caller = self.registry.callers.get(uid)
        if caller is not None:
            if caller.stage is CallerStage.CONNECTED:
                return self._end_connected(caller, Ended.CALLER)
            return NOTHING
        leg = self.registry.leg_by_uid.get(uid)
        return NOTHING if leg is None else self._agent_side_left(leg)

    # ------------------------------------------------------------------ hold

    # A caller hears music twice over: while it waits (its holding bridge plays it) and
    # while the agent holds it (the phone's re-INVITE reaches the caller's channel as a
    # hold indication, which starts music on it). Only music that starts once the caller
    # is connected is a hold. The holding bridge's music stops just after the agent
    # answered (CCRAgentAnswered comes before the caller is moved into the agent's
    # bridge): that stop ends no hold, as none began.

    # The hold is also written on the caller's channel (CCR_HELD while it lasts, CCR_HOLD_S
    # when it ends): music on hold has no trace a channel list shows, and a router started
    # again must see that the call it adopts is on hold, and since when.

    def _on_moh_start(self, frame: bytes, now: float) -> Effects:
        caller = self.registry.callers.get(header(frame, b"Uniqueid: "))
        if caller is None or caller.stage is not CallerStage.CONNECTED or caller.held:
            return NOTHING
        caller.held = True
        caller.held_at = now
        return (
            ev.InteractionHeld(caller.iid),
            Send(act.setvar(caller.channel, act.HELD_MARK, f"{caller.held_at:.3f}")),
        )

    def _on_moh_stop(self, frame: bytes, now: float) -> Effects:
        caller = self.registry.callers.get(header(frame, b"Uniqueid: "))
        if caller is None or not caller.held:
            return NOTHING
        caller.held = False
        if caller.stage is not CallerStage.CONNECTED:
            return NOTHING  # the call ended on hold: its end closed the hold
        caller.hold_s += max(0.0, now - caller.held_at)
        return (
            ev.InteractionResumed(caller.iid),
            Send(act.setvar(caller.channel, act.HOLD_TIME, f"{caller.hold_s:.3f}")),
            Send(act.setvar(caller.channel, act.HELD_MARK, "")),
        )

    # ------------------------------------------------------------------ agent legs

    def _on_newchannel(self, frame: bytes, now: float) -> Effects:
        if not self.registry.leg_by_uid:
            return NOTHING
        uid = header(frame, b"Uniqueid: ")
        leg = self.registry.leg_by_uid.get(uid)
        if leg is None:
            return NOTHING
        leg.alive.add(uid)
        if leg.state is LegState.CANCELLED and uid == leg.channel_id:
            # The Hangup sent on cancel may have come before the channel existed.
            return (Send(act.hangup(leg.channel_id)),)
        return NOTHING

    def _on_agent_answered(self, msg: Message, now: float) -> Effects:
        leg = self.registry.leg_by_uid.get(msg.get("Uniqueid", ""))
        if leg is None:
            log.debug("ami_answer_unknown_leg", node=self.node, iid=msg.get("IID"), agent=msg.get("Agent"))
            return NOTHING
        if leg.state in SETTLED:
            return (Send(act.hangup(leg.channel_id)),)
        caller = self.registry.by_iid.get(leg.iid)
        if caller is None or caller.stage is not CallerStage.WAITING:
            return (Send(act.hangup(leg.channel_id)),)
        return self.leg_answered(leg, caller)

    def _on_agent_orphan(self, msg: Message, now: float) -> Effects:
        log.info("ami_agent_orphan", node=self.node, iid=msg.get("IID"), agent=msg.get("Agent"))
        return NOTHING

    def _on_originate_response(self, frame: bytes, now: float) -> Effects:
        leg = self.registry.leg_by_action.get(header(frame, b"ActionID: "))
        if leg is None or header(frame, b"Response: ") == "Success":
            return NOTHING
        raw_reason = header(frame, b"Reason: ")
        out: Effects = NOTHING
        if leg.state in PENDING:
            out = self.leg_failed(
                leg, act.decline_reason(raw_reason), f"OriginateResponse Reason {raw_reason}", now
            )
        elif leg.state is LegState.CANCELLED:
            leg.state = LegState.DONE
        if not leg.alive:
            self.registry.forget_leg(leg)
        return out

    def leg_failed(self, leg: AgentLeg, reason: DeclineReason, why: str, now: float) -> Effects:
        """The offer's agent leg will not be answered: the offer is declined."""
        leg.state = LegState.DONE
        log.info(
            "ami_offer_declined", node=self.node, iid=leg.iid, agent=leg.agent_id, reason=reason, why=why
        )
        ring_s = max(0.0, now - leg.sent_at)
        out = self.queue_log(qlog.ring_no_answer(leg.iid, leg.queue, leg.agent_id, now, ring_s))
        out.append(ev.OfferDeclined(leg.iid, leg.agent_id, reason))
        if not leg.alive:
            self.registry.forget_leg(leg)
        return out

    def leg_answered(self, leg: AgentLeg, caller: CallerLeg) -> Effects:
        leg.state = LegState.ANSWERED
        caller.stage = CallerStage.CONNECTED
        caller.agent_leg = leg
        return (ev.OfferAccepted(leg.iid, leg.agent_id),)

    def queue_log(self, rec: qlog.QueueLogRecord) -> list[Effect]:
        """The queue_log line of a record, if this node writes Asterisk's queue_log."""
        return [LogLine(given, (rec,))] if self.spec.queue_log else []

    # ------------------------------------------------------------------ differences found

    def caller_vanished(self, caller: CallerLeg) -> Effects:
        """The caller's channel is gone and its Hangup was missed (connection down)."""
        if self.outage.restarted:
            return caller_dropped(caller)  # Asterisk restarted under it: the PBX's doing
        out: list[Effect] = []
        if caller.stage is CallerStage.CONNECTED:
            out += self._end_connected(caller, Ended.UNKNOWN)
        out += self._caller_gone(caller, Ended.CALLER)
        return out

    def bridge_vanished(self, caller: CallerLeg) -> Effects:
        """A connected caller without its bridge: the call is over; do not leave it in silence."""
        out: list[Effect] = []
        if caller.stage is CallerStage.CONNECTED:
            out += self._end_connected(caller, Ended.UNKNOWN)
        out.append(Send(act.hangup(caller.channel)))
        return out

    def leg_vanished(self, leg: AgentLeg, now: float) -> Effects:
        """Every channel of the leg is gone and their Hangups were missed (drift check)."""
        leg.alive.clear()
        if leg.state in PENDING:
            return self.leg_failed(leg, DeclineReason.FAILED, "agent leg gone", now)
        out: Effects = NOTHING
        if leg.state is LegState.ANSWERED:
            owner = self.registry.by_iid.get(leg.iid)
            if owner is not None and owner.stage is CallerStage.CONNECTED:
                out = self.bridge_vanished(owner)
        self.registry.forget_leg(leg)
        return out

    # ------------------------------------------------------------------ agents and devices

    def index_agents(self) -> None:
        """Map devices and endpoints to this node's agents (again after a config change)."""
        config = self.setup.config
        self.registry.index_agents(
            (a.id, a.spec.endpoint)
            for a in self.setup.router.agents.values()
            if config.node_of_pool(a.spec.pool) == self.node
        )

    def my_agents(self) -> list[str]:
        config = self.setup.config
        return [
            a.id for a in self.setup.router.agents.values() if config.node_of_pool(a.spec.pool) == self.node
        ]

    def _on_device_state(self, frame: bytes, now: float) -> Effects:
        registry = self.registry
        if not registry.device_agent:
            return NOTHING
        aid = registry.device_agent.get(header(frame, b"Device: "))
        if aid is None:
            return NOTHING
        registry.device_events[aid] = registry.device_events.get(aid, 0) + 1
        if aid in registry.blocked:
            return NOTHING
        state = header(frame, b"State: ")
        if state in DEVICE_BUSY:
            return self.set_device(aid, True)
        if state in DEVICE_FREE:
            return self.set_device(aid, False)
        return NOTHING

    def set_device(self, agent_id: str, busy: bool, *, force: bool = False) -> Effects:
        registry = self.registry
        if not force and registry.has_router_call(agent_id):
            return NOTHING
        if registry.device_busy.get(agent_id, False) == busy:
            return NOTHING
        registry.device_busy[agent_id] = busy
        return (ev.AgentDeviceChanged(agent_id, busy),)

    def set_device_checked(self, agent_id: str, busy: bool) -> Effects | None:
        """A device state found by a drift check; None when it is not the node's to set."""
        if agent_id in self.registry.blocked or self.registry.has_router_call(agent_id):
            return None
        return self.set_device(agent_id, busy)

    def block_agents(self) -> Effects:
        """Keep the router from offering calls to this node's agents while it is down."""
        out: list[Effect] = []
        blocked = self.registry.blocked
        for aid in self.my_agents():
            if aid not in blocked:
                blocked.add(aid)
                out += self.set_device(aid, True, force=True)
        return out

    def unblock_agents(self, busy_devices: set[str]) -> Effects:
        out: list[Effect] = []
        blocked = self.registry.blocked
        for aid in list(blocked):
            blocked.discard(aid)
            out += self.set_device(aid, aid in busy_devices, force=True)
        return out

    def sync_devices(self, busy: Iterable[str]) -> Effects:
        busy = set(busy)
        out: list[Effect] = []
        for aid in self.registry.device_agent.values():
            if aid not in self.registry.blocked:
                out += self.set_device(aid, aid in busy)
        return out

    def _on_agent_feature(self, msg: Message, now: float) -> Effects:
        what = msg.get("Action", "").lower()
        agents = self.setup.router.agents
        aid = self.registry.agent_for(msg.get("Endpoint", ""), msg.get("CallerNum", ""), agents.__contains__)
        if aid is None:
            log.warning(
                "ami_feature_unknown_agent",
                node=self.node,
                endpoint=msg.get("Endpoint"),
                caller=msg.get("CallerNum"),
            )
            return NOTHING
        event: ev.Event
        if what == "login":
            event = ev.AgentLoggedIn(aid)
        elif what == "logout":
            event = ev.AgentLoggedOut(aid)
        elif what == "pause":
            event = ev.AgentPaused(aid, msg.get("Reason", "").strip() or "break")
        elif what == "unpause":
            event = ev.AgentUnpaused(aid)
        else:
            log.warning("ami_feature_unknown_action", node=self.node, action=what, agent=aid)
            return NOTHING
        return (event,)

    def _on_contact_status(self, frame: bytes, now: float) -> Effects:
        """A trunk's qualify: its far end answers again, or no more (PJSIP ContactStatus)."""
        status = header(frame, b"ContactStatus: ")
        if status not in (REACHABLE, UNREACHABLE):
            return NOTHING
        peer = peer_of_aor(self.setup.config, self.node, header(frame, b"AOR: "))
        if peer is None:
            return NOTHING
        if status == UNREACHABLE and peer not in self.trunks_down:
            self.trunks_down.add(peer)
            log.warning("ami_trunk_down", node=self.node, peer=peer)
            return (ev.TrunkDown(self.node, peer),)
        if status == REACHABLE and peer in self.trunks_down:
            self.trunks_down.discard(peer)
            log.info("ami_trunk_up", node=self.node, peer=peer)
            return (ev.TrunkUp(self.node, peer),)
        return NOTHING

    def calls_over_trunk_lost(self, peer: str) -> Effects:
        """Connected calls whose agent is on `peer`, now that `peer` is dead (fleet.py): a
        node that died sends no BYE, and the caller would sit in silence until the next SIP
        session refresh. Each is recorded as the PBX's loss and hung up here (the agent's
        leg, and the caller, who would otherwise wait for the bridge to end)."""
        config, agents = self.setup.config, self.setup.router.agents
        out: list[Effect] = []
        for caller in list(self.registry.by_iid.values()):
            leg = caller.agent_leg
            if caller.stage is not CallerStage.CONNECTED or leg is None:
                continue
            a = agents.get(leg.agent_id)
            if a is None or config.node_of_pool(a.spec.pool) != peer:
                continue
            log.warning(
                "ami_trunk_call_dropped", node=self.node, peer=peer, iid=caller.iid, agent=leg.agent_id
            )
            out += caller_dropped(caller)
            out += (Send(act.hangup(leg.channel_id)), Send(act.hangup(caller.channel)))
        return out

    def _on_shutdown(self, frame: bytes, now: float) -> Effects:
        # Its calls end with it: once the link drops, the callers it held are the PBX's loss.
        self.outage.dead = True
        log.warning("ami_asterisk_shutdown", node=self.node, detail=parse_frame(frame).get("Shutdown", ""))
        return NOTHING
