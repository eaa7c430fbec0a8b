"""One Asterisk node: AMI events in, core events out; core commands in, AMI actions out.

State kept here is only what translation needs: the callers this node holds (by
Uniqueid) and the agent legs it originated (by their ChannelId). The router's state is
the truth about queues and agents; after a reconnect this node's state is checked
against Asterisk's (snapshot.py) and the differences are told to the router.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import structlog
from pydantic import SecretStr

from cc_router.adapters.ami import actions as act
from cc_router.adapters.ami.connection import AmiConnection, AmiError, ConnectionLost, Reply
from cc_router.adapters.ami.protocol import Message, header, parse_frame
from cc_router.config.models import AsteriskNode
from cc_router.core import commands as cmd
from cc_router.core import events as ev
from cc_router.core.spec import Channel
from cc_router.ha.gate import outbox_gate
from cc_router.service import Service
from cc_router.store import queue_log as qlog

log = structlog.get_logger("cc_router.ami.node")

UserEventCallback = Callable[[Message], None]

DEVICE_BUSY = frozenset({"INUSE", "BUSY", "RINGING", "RINGINUSE", "ONHOLD"})
DEVICE_FREE = frozenset({"NOT_INUSE"})
OUTBOX_MAX = 100_000
"""Actions kept while disconnected (queue_log lines mostly); beyond this the oldest go."""

LITE_USER_EVENTS: dict[str, tuple[str, ...]] = {"CCRAgentAnswered": ("Uniqueid", "IID", "Agent")}
"""UserEvents whose handler reads only these headers (unless a hook wants the whole message)."""

HOLDING_BRIDGE = "holding_bridge"
"""BridgeTechnology of the bridge a caller waits in (BridgeWait in ccr-inbound)."""
HOLD_APPLICATIONS = frozenset({"BridgeWait", "MusicOnHold"})
"""Application of a caller on hold in ccr-inbound (MusicOnHold: dialplans before BridgeWait)."""

WANTED_EVENTS = frozenset(
    {"UserEvent", "Hangup", "BridgeLeave", "OriginateResponse", "DeviceStateChange", "Newchannel", "Shutdown"}
)
SESSION_FILTERS: tuple[tuple[str, str], ...] = (
    *((f"action(include),name({name})", "") for name in sorted(WANTED_EVENTS)),
    # Local channels (simulated agents, Local/ legs) change device state several times per
    # call; only real devices can belong to agents whose phones the router watches.
    ("action(exclude),name(DeviceStateChange),header(Device),method(starts_with)", "Local/"),
    # A waiting caller leaving its holding bridge (ccr-inbound's BridgeWait) is being
    # connected, not ending its call.
    ("action(exclude),name(BridgeLeave),header(BridgeTechnology),method(exact)", HOLDING_BRIDGE),
)
"""AMI `Filter`s this node puts on its own session after login: only the events it handles
reach it (one call: about 12 events instead of 31, so fewer reads and wake-ups). Per
session, not in manager.conf, so other sessions of the same user (tests, benchmarks,
operators) still see everything; list replies (CoreShowChannel...) are not filtered
(checked on Asterisk 22)."""


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
    stage: str = "waiting"
    """waiting (incl. agent ringing), connected, done (exited or ended; awaiting Hangup)"""
    agent_leg: AgentLeg | None = None


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
    state: str = "sending"
    """sending, queued (Originate accepted), unknown (reply lost with the connection),
    answered, cancelled, done"""
    alive: set[str] = field(default_factory=set)
    """Uniqueids of this leg's channels seen and not hung up yet."""


class AmiNode:
    """A supervised component (`run`) plus the command sink (`on_commands`).

    Hooks for other adapters (omnichannel: CCRMessage, CCRFax, MessageSend):
    `on_user_event(name, callback)` registers `callback(message_dict)` for every
    `UserEvent: <name>`; `send_action(dict)` sends any action and returns an awaitable
    reply (raises ConnectionLost if the node is down or drops before the reply; the
    action is never re-sent).
    """

    def __init__(
        self,
        service: Service,
        spec: AsteriskNode,
        *,
        multi_node: bool = False,
        secret: SecretStr | None = None,
    ) -> None:
        self.service = service
        self.spec = spec
        self.name = f"ami:{spec.name}"
        self.node = spec.name
        self._secret = secret or spec.secret or SecretStr("")
        self._prefix = f"{spec.name}." if multi_node else ""
        self.exit_unknown_numbers = True
        """False where several routers share one Asterisk (tests): leave others' callers alone."""
        self.conn: AmiConnection | None = None
        self.ready = False
        """Logged in and the state rebuilt from Asterisk's snapshot: routing is live."""
        self.connects = 0
        self.last_error = ""
        self.callers: dict[str, CallerLeg] = {}  # by caller Uniqueid
        self.by_iid: dict[str, CallerLeg] = {}
        self.legs: dict[str, AgentLeg] = {}  # by offer id
        self.leg_by_uid: dict[str, AgentLeg] = {}  # channel_id and other_id
        self.leg_by_action: dict[str, AgentLeg] = {}
        self.recent_hangups: deque[str] = deque(maxlen=4096)
        self._recent_set: set[str] = set()
        self._user_hooks: dict[str, list[UserEventCallback]] = {}
        self._outbox: deque[
            tuple[act.Action, Callable[[Reply | None, BaseException | None], None] | None]
        ] = deque()
        self._outbox_wake = asyncio.Event()
        self._device_busy: dict[str, bool] = {}
        self._blocked: set[str] = set()
        """Agents this node marked in use while it could not reach Asterisk."""
        self._run_token = secrets.token_hex(3)
        self.drift: Counter[str] = Counter()
        """Drift items confirmed since start, by kind (drift.py); read by /metrics."""
        self.drift_checks = 0
        self.drift_check_s = spec.drift_check_s
        self.drift_grace_s = 2.0
        """A drift suspect must survive this long (then a Ping barrier) to count."""
        self.reported_router_only: set[str] = set()
        self.device_events: dict[str, int] = {}
        """DeviceStateChange events seen per agent: a drift check's list is stale if this moved."""
        self._leg_seq = 0
        self._device_agent: dict[str, str] = {}
        self._endpoint_agent: dict[str, str] = {}
        self._handlers: dict[str, Callable[[bytes], None]] = {
            "UserEvent": self._on_user_event,
            "Hangup": self._on_hangup,
            "BridgeLeave": self._on_bridge_leave,
            "OriginateResponse": self._on_originate_response,
            "DeviceStateChange": self._on_device_state,
            "Newchannel": self._on_newchannel,
            "Shutdown": self._on_shutdown,
        }
        self._user_handlers: dict[str, Callable[[Message], None]] = {
            "CCREnqueue": self._on_enqueue,
            "CCRAgentAnswered": self._on_agent_answered,
            "CCRAgentOrphan": self._on_agent_orphan,
            "CCRAgentFeature": self._on_agent_feature,
        }
        self.index_agents()

    # ------------------------------------------------------------------ public hooks

    def on_user_event(self, name: str, callback: UserEventCallback) -> None:
        self._user_hooks.setdefault(name, []).append(callback)

    async def send_action(self, action: Mapping[str, str | Sequence[str]]) -> Reply:
        conn = self.conn
        if conn is None:
            raise ConnectionLost(f"{action.get('Action')}: {self.node} not connected")
        return await conn.send_action(action)

    def index_agents(self) -> None:
        """Map devices and endpoints to this node's agents (again after a config change)."""
        self._device_agent.clear()
        self._endpoint_agent.clear()
        for a in self.service.router.agents.values():
            if self.service.config.node_of_pool(a.spec.pool) != self.node:
                continue
            endpoint = a.spec.endpoint
            if not endpoint:
                continue
            tech, _, rest = endpoint.partition("/")
            resource = rest.split("/", 1)[0]
            if tech.upper() != "LOCAL":
                self._device_agent[f"{tech}/{resource}"] = a.id
            self._endpoint_agent[resource] = a.id

    @property
    def run_token(self) -> str:
        """Part of every agent-leg id this node makes (`ccr-<token>-<n>`)."""
        return self._run_token

    @property
    def prefix(self) -> str:
        """Interaction id prefix (`<node>.` with several nodes, else empty)."""
        return self._prefix

    def my_agents(self) -> list[str]:
        return [
            a.id
            for a in self.service.router.agents.values()
            if self.service.config.node_of_pool(a.spec.pool) == self.node
        ]

    # ------------------------------------------------------------------ run

    async def run(self) -> None:
        """Connect, rebuild, serve; reconnect with exponential backoff forever."""
        from cc_router.adapters.ami.drift import drift_loop
        from cc_router.adapters.ami.snapshot import rebuild

        backoff = 0.5
        # Agents restored from the store may be on calls the snapshot has yet to see: none
        # is offered a caller before the first snapshot has read the device states.
        self._block_agents()
        sender = asyncio.create_task(self._send_loop(), name=f"{self.name}-send")
        try:
            while True:
                conn = AmiConnection(
                    self.spec.host,
                    self.spec.port,
                    self.spec.username,
                    self._secret,
                    on_event=self._on_event,
                    ping_interval_s=self.spec.ping_interval_s,
                    ping_timeout_s=self.spec.ping_timeout_s,
                    name=self.spec.name,
                    may_send=outbox_gate(self.service),
                )
                try:
                    await conn.connect(timeout_s=max(5.0, self.spec.ping_timeout_s * 2))
                except (OSError, TimeoutError, AmiError) as exc:
                    self.last_error = f"{type(exc).__name__}: {exc}"
                    self._block_agents()
                    log.warning(
                        "ami_connect_failed", node=self.node, error=self.last_error, retry_in_s=backoff
                    )
                    conn.close("connect failed")
                    await asyncio.sleep(backoff)
                    backoff = min(self.spec.reconnect_max_s, backoff * 2)
                    continue
                self.conn = conn
                self.connects += 1
                try:
                    await self._filter_session(conn)
                    self._outbox_wake.set()
                    await rebuild(self)
                    self.ready = True
                    self.last_error = ""
                    backoff = 0.5
                    log.info("ami_ready", node=self.node, connects=self.connects)
                except (AmiError, TimeoutError) as exc:
                    self.last_error = f"snapshot failed: {exc}"
                    log.warning("ami_snapshot_failed", node=self.node, error=str(exc))
                    conn.close("snapshot failed")
                drift = asyncio.create_task(drift_loop(self), name=f"{self.name}-drift")
                try:
                    await conn.wait_closed()
                finally:
                    drift.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await drift
                self.ready = False
                self.last_error = conn.lost_reason
                self._on_connection_lost()
                await asyncio.sleep(backoff)
                backoff = min(self.spec.reconnect_max_s, backoff * 2)
        finally:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender
            if self.conn is not None:
                self.conn.close("stopped")
            self.ready = False

    async def _filter_session(self, conn: AmiConnection) -> None:
        if not self.spec.event_filters:
            return
        replies = await asyncio.wait_for(
            asyncio.gather(
                *(conn.send_action(act.session_filter(c, f)) for c, f in SESSION_FILTERS),
                return_exceptions=True,
            ),
            max(5.0, self.spec.ping_timeout_s * 2),
        )
        for reply in replies:
            if isinstance(reply, ConnectionLost):
                raise reply
            if not isinstance(reply, dict) or reply.get("Response") != "Success":
                # Older Asterisk (no advanced filters) or no `system` write permission:
                # unfiltered events are handled the same, only at a higher cost.
                log.warning(
                    "ami_session_filter_failed",
                    node=self.node,
                    reply=str(reply.get("Message", "") if isinstance(reply, dict) else reply),
                )
                return

    def _on_connection_lost(self) -> None:
        # Originates not yet written can still be refused cleanly; written ones have an
        # unknown fate until the snapshot after reconnecting.
        # Block first: a declined offer must not be re-offered to another agent here.
        self._block_agents()
        kept: deque[tuple[act.Action, Callable[[Reply | None, BaseException | None], None] | None]] = deque()
        for item in self._outbox:
            if item[0].get("Action") == "Originate":
                leg = self.leg_by_action.get(str(item[0].get("ActionID")))
                if leg is not None:
                    self.leg_failed(leg, "failed", "not connected")
            else:
                kept.append(item)
        self._outbox = kept

    def _block_agents(self) -> None:
        """Keep the router from offering calls to this node's agents while it is down."""
        for aid in self.my_agents():
            if aid not in self._blocked:
                self._blocked.add(aid)
                self._set_device(aid, True, force=True)

    def unblock_agents(self, busy_devices: set[str]) -> None:
        for aid in list(self._blocked):
            self._blocked.discard(aid)
            self._set_device(aid, aid in busy_devices, force=True)

    # ------------------------------------------------------------------ sending

    def enqueue(
        self,
        action: act.Action,
        on_reply: Callable[[Reply | None, BaseException | None], None] | None = None,
    ) -> None:
        """Write the action now if nothing is queued before it, else queue it for the send
        loop. Either way the event path never waits: writing to the transport is buffered."""
        conn = self.conn
        if not self._outbox and conn is not None and conn.connected:
            # Waiting for the send loop's next turn cost tens of ms at 100 calls/s, because it
            # only runs once the whole AMI read has been handled.
            self._write(conn, action, on_reply)
            return
        if len(self._outbox) >= OUTBOX_MAX:
            dropped = self._outbox.popleft()
            log.error("ami_outbox_full", node=self.node, dropped=dropped[0].get("Action"))
        self._outbox.append((action, on_reply))
        self._outbox_wake.set()

    async def _send_loop(self) -> None:
        while True:
            await self._outbox_wake.wait()
            self._outbox_wake.clear()
            conn = self.conn
            while self._outbox and conn is not None and conn.connected:
                action, on_reply = self._outbox.popleft()
                self._write(conn, action, on_reply)
            await asyncio.sleep(0)

    def _write(
        self,
        conn: AmiConnection,
        action: act.Action,
        on_reply: Callable[[Reply | None, BaseException | None], None] | None,
    ) -> None:
        # Every reply handler here reads only Response (and Message when it failed), so
        # replies need no parse; queue_log lines are not urgent and go behind the rest.
        fut = conn.send_action(action, lite=True, low_priority=action.get("Action") == "QueueLog")
        fut.add_done_callback(self._reply_handler(action, on_reply))

    def _reply_handler(
        self,
        action: act.Action,
        on_reply: Callable[[Reply | None, BaseException | None], None] | None,
    ) -> Callable[[asyncio.Future[Reply]], None]:
        def done(fut: asyncio.Future[Reply]) -> None:
            exc = fut.exception() if not fut.cancelled() else asyncio.CancelledError()
            reply = None if exc is not None else fut.result()
            if isinstance(reply, dict) and reply.get("Response") not in ("Success", "Goodbye"):
                log.warning(
                    "ami_action_failed",
                    node=self.node,
                    action=action.get("Action"),
                    message=reply.get("Message", ""),
                    channel=action.get("Channel", ""),
                )
            elif exc is not None and not isinstance(exc, asyncio.CancelledError):
                log.warning(
                    "ami_action_unanswered", node=self.node, action=action.get("Action"), error=str(exc)
                )
            if on_reply is not None:
                try:
                    on_reply(reply, exc)
                except Exception:
                    log.exception("ami_reply_handler_failed", node=self.node, action=action.get("Action"))

        return done

    # ------------------------------------------------------------------ events in

    def submit(self, event: ev.Event) -> list[cmd.Command]:
        return self.service.submit(event)

    def _defer(self, event: ev.Event) -> None:
        """Submit after the current sink pass (sinks must not re-enter the router)."""
        asyncio.get_running_loop().call_soon(self.submit, event)

    def _on_event(self, name: str, frame: bytes) -> None:
        handler = self._handlers.get(name)
        if handler is not None:
            handler(frame)

    def _on_user_event(self, frame: bytes) -> None:
        name = header(frame, b"UserEvent: ")
        handler = self._user_handlers.get(name)
        hooks = self._user_hooks.get(name, ())
        if handler is None and not hooks:
            return
        msg: Message
        if name in LITE_USER_EVENTS and not hooks:
            # Uniqueid routes it; the rest is for a debug line.
            msg = {k: header(frame, f"{k}: ".encode()) for k in LITE_USER_EVENTS[name]}
        else:
            msg = parse_frame(frame)
        if handler is not None:
            handler(msg)
        for hook in hooks:
            try:
                hook(msg)
            except Exception:
                log.exception("ami_user_event_hook_failed", node=self.node, user_event=name)

    def _on_enqueue(self, msg: Message) -> None:
        uid = msg.get("Uniqueid", "")
        if not uid or uid in self.callers:
            return
        self.admit_caller(
            uid=uid,
            channel=msg.get("Channel", ""),
            number=msg.get("Number", ""),
            caller_num=msg.get("CallerNum", ""),
            caller_name=msg.get("CallerName", ""),
            lang=msg.get("Lang", ""),
            caller_priority=msg.get("CallerPriority", ""),
        )

    def admit_caller(
        self,
        *,
        uid: str,
        channel: str,
        number: str,
        caller_num: str,
        caller_name: str,
        lang: str,
        caller_priority: str,
    ) -> None:
        """A caller on hold becomes an interaction (from CCREnqueue, or found in a snapshot)."""
        route = self.service.config.numbers.get(number)
        iid = f"{self._prefix}{uid}"
        if route is None and not self.exit_unknown_numbers:
            log.debug("ami_foreign_number_ignored", node=self.node, number=number, channel=channel)
            return
        if route is None:
            log.warning(
                "ami_unknown_number", node=self.node, number=number, channel=channel,
                hint="add it under `numbers:` in the config; the caller is sent to ccr-exit,hangup",
            )  # fmt: skip
            leg = CallerLeg(iid, uid, channel, number, "", caller_num, caller_name, stage="done")
            self.callers[uid] = leg
            self.enqueue(act.redirect(channel, "hangup"), self._exit_reply(leg))
            return
        priority = route.priority
        with contextlib.suppress(ValueError):
            priority += int(caller_priority.strip() or "0")
        attributes = dict(route.attributes)
        attributes.update(number=number, caller_num=caller_num, caller_name=caller_name)
        if lang:
            attributes["lang"] = lang
        caller = f"{caller_name} <{caller_num}>" if caller_name else caller_num
        leg = CallerLeg(iid, uid, channel, number, route.queue, caller_num, caller_name)
        self.callers[uid] = leg
        self.by_iid[iid] = leg
        out = self.submit(ev.InteractionArrived(iid, route.queue, priority, caller, attributes))
        for c in out:
            if (
                isinstance(c, cmd.EventRejected)
                and c.event is not None
                and getattr(c.event, "interaction_id", "") == iid
            ):
                log.warning("ami_arrival_rejected", node=self.node, iid=iid, reason=c.reason)

    def _on_hangup(self, frame: bytes) -> None:
        uid = header(frame, b"Uniqueid: ")
        self._remember_hangup(uid)
        caller = self.callers.get(uid)
        if caller is not None:
            self._caller_gone(caller, "caller")
            return
        leg = self.leg_by_uid.get(uid)
        if leg is not None:
            leg.alive.discard(uid)
            self._agent_side_left(leg)
            if not leg.alive and leg.state in ("done", "cancelled"):
                self.forget_leg(leg)

    def _remember_hangup(self, uid: str) -> None:
        if len(self.recent_hangups) == self.recent_hangups.maxlen:
            self._recent_set.discard(self.recent_hangups[0])
        self.recent_hangups.append(uid)
        self._recent_set.add(uid)

    def hung_up_recently(self, uid: str) -> bool:
        return uid in self._recent_set

    def _caller_gone(self, caller: CallerLeg, side: str) -> None:
        if caller.stage == "connected":
            self._end_connected(caller, side)
        elif caller.stage == "waiting":
            caller.stage = "done"
            self.submit(ev.InteractionAbandoned(caller.iid))
        self.callers.pop(caller.uniqueid, None)
        if self.by_iid.get(caller.iid) is caller:
            del self.by_iid[caller.iid]

    def _end_connected(self, caller: CallerLeg, side: str) -> None:
        # The first leg to leave the bridge (or hang up) tells who ended the call;
        # BridgeLeave and Hangup of the two legs come in no guaranteed order.
        caller.stage = "done"
        leg = caller.agent_leg
        if leg is not None:
            leg.state = "done"
        self.submit(ev.InteractionEnded(caller.iid, f"{side}_hangup"))

    def _agent_side_left(self, leg: AgentLeg) -> None:
        if leg.state != "answered":
            return
        caller = self.by_iid.get(leg.iid)
        if caller is not None and caller.stage == "connected":
            self._end_connected(caller, "agent")
        else:
            leg.state = "done"

    def _on_bridge_leave(self, frame: bytes) -> None:
        if header(frame, b"BridgeTechnology: ") == HOLDING_BRIDGE:
            return  # the caller leaving the hold for the agent bridge (or hanging up)
        uid = header(frame, b"Uniqueid: ")
        caller = self.callers.get(uid)
        if caller is not None:
            if caller.stage == "connected":
                self._end_connected(caller, "caller")
            return
        leg = self.leg_by_uid.get(uid)
        if leg is not None:
            self._agent_side_left(leg)

    def _on_newchannel(self, frame: bytes) -> None:
        if not self.leg_by_uid:
            return
        uid = header(frame, b"Uniqueid: ")
        leg = self.leg_by_uid.get(uid)
        if leg is None:
            return
        leg.alive.add(uid)
        if leg.state == "cancelled" and uid == leg.channel_id:
            # The Hangup sent on cancel may have come before the channel existed.
            self.enqueue(act.hangup(leg.channel_id))

    def _on_agent_answered(self, msg: Message) -> None:
        leg = self.leg_by_uid.get(msg.get("Uniqueid", ""))
        if leg is None:
            log.debug("ami_answer_unknown_leg", node=self.node, iid=msg.get("IID"), agent=msg.get("Agent"))
            return
        if leg.state in ("cancelled", "done"):
            self.enqueue(act.hangup(leg.channel_id))
            return
        caller = self.by_iid.get(leg.iid)
        if caller is None or caller.stage != "waiting":
            self.enqueue(act.hangup(leg.channel_id))
            return
        self.leg_answered(leg, caller)

    def _on_agent_orphan(self, msg: Message) -> None:
        log.info("ami_agent_orphan", node=self.node, iid=msg.get("IID"), agent=msg.get("Agent"))

    def _on_originate_response(self, frame: bytes) -> None:
        leg = self.leg_by_action.get(header(frame, b"ActionID: "))
        if leg is None:
            return
        if header(frame, b"Response: ") == "Success":
            return
        raw_reason = header(frame, b"Reason: ")
        reason = act.decline_reason(raw_reason)
        if leg.state in ("sending", "queued", "unknown"):
            self.leg_failed(leg, reason, f"OriginateResponse Reason {raw_reason}")
        elif leg.state == "cancelled":
            leg.state = "done"
        if not leg.alive:
            self.forget_leg(leg)

    def leg_failed(self, leg: AgentLeg, reason: str, why: str) -> None:
        leg.state = "done"
        log.info(
            "ami_offer_declined", node=self.node, iid=leg.iid, agent=leg.agent_id, reason=reason, why=why
        )
        ring_s = max(0.0, time.time() - leg.sent_at)
        self._queue_log(qlog.ring_no_answer(leg.iid, leg.queue, leg.agent_id, time.time(), ring_s))
        self.submit(ev.OfferDeclined(leg.iid, leg.agent_id, reason))
        if not leg.alive:
            self.forget_leg(leg)

    def forget_leg(self, leg: AgentLeg) -> None:
        self.legs.pop(leg.offer_id, None)
        for uid in (leg.channel_id, leg.other_id):
            if self.leg_by_uid.get(uid) is leg:
                del self.leg_by_uid[uid]
        if self.leg_by_action.get(leg.action_id) is leg:
            del self.leg_by_action[leg.action_id]

    def _on_device_state(self, frame: bytes) -> None:
        if not self._device_agent:
            return
        aid = self._device_agent.get(header(frame, b"Device: "))
        if aid is None:
            return
        self.device_events[aid] = self.device_events.get(aid, 0) + 1
        if aid in self._blocked:
            return
        state = header(frame, b"State: ")
        if state in DEVICE_BUSY:
            self._set_device(aid, True)
        elif state in DEVICE_FREE:
            self._set_device(aid, False)

    def has_router_call(self, agent_id: str) -> bool:
        return any(
            leg.agent_id == agent_id and (leg.alive or leg.state in ("sending", "queued", "answered"))
            for leg in self.legs.values()
        )

    def _set_device(self, agent_id: str, busy: bool, *, force: bool = False) -> None:
        if not force and self.has_router_call(agent_id):
            return
        if self._device_busy.get(agent_id, False) == busy:
            return
        self._device_busy[agent_id] = busy
        self.submit(ev.AgentDeviceChanged(agent_id, busy))

    def agent_for(self, endpoint: str, caller_num: str) -> str | None:
        agents = self.service.router.agents
        for key in (endpoint, caller_num):
            if not key:
                continue
            aid = self._endpoint_agent.get(key)
            if aid is not None:
                return aid
            if key in agents:
                return key
        return None

    def _on_agent_feature(self, msg: Message) -> None:
        what = msg.get("Action", "").lower()
        aid = self.agent_for(msg.get("Endpoint", ""), msg.get("CallerNum", ""))
        if aid is None:
            log.warning(
                "ami_feature_unknown_agent",
                node=self.node,
                endpoint=msg.get("Endpoint"),
                caller=msg.get("CallerNum"),
            )
            return
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
            return
        self.submit(event)

    def _on_shutdown(self, frame: bytes) -> None:
        log.warning("ami_asterisk_shutdown", node=self.node, detail=parse_frame(frame).get("Shutdown", ""))

    # ------------------------------------------------------------------ commands out

    def on_commands(self, commands: Sequence[cmd.Command], now: float) -> None:
        """Service sink: turn the commands that concern this node into queued actions."""
        for c in commands:
            try:
                if isinstance(c, cmd.Offer):
                    self._offer(c, now)
                elif isinstance(c, cmd.CancelOffer):
                    self._cancel(c, now)
                elif isinstance(c, cmd.ExitInteraction):
                    self._exit(c)
                elif isinstance(
                    c, cmd.InteractionQueued | cmd.InteractionConnected | cmd.InteractionFinished
                ):
                    self._queue_log_interaction(c)
                elif isinstance(c, cmd.AgentStateChanged):
                    self._queue_log_agent(c)
            except Exception:
                log.exception("ami_command_failed", node=self.node, command=type(c).__name__)

    def _offer(self, c: cmd.Offer, now: float) -> None:
        if c.channel is not Channel.VOICE:
            return
        caller = self.by_iid.get(c.interaction_id)
        if caller is None:
            return
        a = self.service.router.agents.get(c.agent_id)
        endpoint = a.spec.endpoint if a is not None else ""
        agent_node = self.service.config.node_of_pool(a.spec.pool) if a is not None else None
        self._leg_seq += 1
        channel_id = f"ccr-{self._run_token}-{self._leg_seq}"
        conn = self.conn
        action_id = conn.action_id_for_next() if conn is not None else f"{channel_id}-x"
        leg = AgentLeg(
            c.offer_id, c.interaction_id, c.agent_id, c.queue, channel_id, f"{channel_id}-2", action_id, now
        )
        self.legs[c.offer_id] = leg
        self.leg_by_uid[leg.channel_id] = leg
        self.leg_by_uid[leg.other_id] = leg
        self.leg_by_action[action_id] = leg
        caller.agent_leg = leg
        if not endpoint or agent_node != self.node:
            log.error(
                "ami_offer_unroutable",
                node=self.node,
                agent=c.agent_id,
                agent_node=agent_node,
                endpoint=endpoint,
            )
            leg.state = "done"
            self._defer(ev.OfferDeclined(c.interaction_id, c.agent_id, "failed"))
            self.forget_leg(leg)
            return
        if conn is None or not conn.connected:
            leg.state = "done"
            self._defer(ev.OfferDeclined(c.interaction_id, c.agent_id, "failed"))
            self.forget_leg(leg)
            return
        action = act.originate(
            action_id=action_id,
            endpoint=endpoint,
            timeout_s=c.timeout_s,
            channel_id=leg.channel_id,
            other_channel_id=leg.other_id,
            caller_uniqueid=caller.uniqueid,
            interaction_id=c.interaction_id,
            agent_id=c.agent_id,
            caller_name=caller.caller_name,
            caller_num=caller.caller_num,
        )
        log.debug(
            "ami_originate",
            node=self.node,
            iid=c.interaction_id,
            agent=c.agent_id,
            endpoint=endpoint,
            channel_id=channel_id,
        )
        self.enqueue(action, self._originate_reply(leg))

    def _originate_reply(self, leg: AgentLeg) -> Callable[[Reply | None, BaseException | None], None]:
        def done(reply: Reply | None, exc: BaseException | None) -> None:
            if isinstance(exc, ConnectionLost):
                if leg.state == "sending":
                    leg.state = "unknown"  # settled by the snapshot after reconnecting
                return
            ok = isinstance(reply, dict) and reply.get("Response") == "Success"
            if ok:
                if leg.state == "sending":
                    leg.state = "queued"
                return
            if leg.state in ("sending", "queued"):
                self.leg_failed(leg, "failed", "Originate refused")

        return done

    def _cancel(self, c: cmd.CancelOffer, now: float) -> None:
        leg = self.legs.get(c.offer_id)
        if leg is None:
            return
        if leg.state in ("sending", "queued", "unknown"):
            leg.state = "cancelled"
            self.enqueue(act.hangup(leg.channel_id))
            if c.reason == "timeout":
                self._queue_log(qlog.ring_no_answer(leg.iid, leg.queue, leg.agent_id, now, now - leg.sent_at))

    def _exit(self, c: cmd.ExitInteraction) -> None:
        caller = self.by_iid.get(c.interaction_id)
        if caller is None:
            return
        caller.stage = "done"
        exten = act.exit_extension(c.target)
        log.info("ami_exit", node=self.node, iid=c.interaction_id, exten=exten, reason=c.reason)
        self.enqueue(act.redirect(caller.channel, exten), self._exit_reply(caller))

    def _exit_reply(self, caller: CallerLeg) -> Callable[[Reply | None, BaseException | None], None]:
        def done(reply: Reply | None, exc: BaseException | None) -> None:
            if (
                isinstance(reply, dict)
                and reply.get("Response") != "Success"
                and caller.uniqueid in self.callers
            ):
                # A caller that cannot be moved is hung up rather than held forever.
                self.enqueue(act.hangup(caller.channel))

        return done

    def _queue_log(self, rec: qlog.QueueLogRecord) -> None:
        if self.spec.queue_log:
            self.enqueue(act.queue_log(rec.ami_fields()))

    def _queue_log_interaction(
        self, c: cmd.InteractionQueued | cmd.InteractionConnected | cmd.InteractionFinished
    ) -> None:
        if not self.spec.queue_log:
            return
        caller = self.by_iid.get(c.interaction_id)
        if caller is None:
            return
        rec: qlog.QueueLogRecord | None
        if isinstance(c, cmd.InteractionQueued):
            rec = qlog.enter_queue(c, caller=caller.caller_num, position=c.original_position or 1)
        elif isinstance(c, cmd.InteractionConnected):
            leg = caller.agent_leg
            ring = c.at - leg.sent_at if leg is not None else 0.0
            rec = qlog.connect(c, ring, leg.channel_id if leg is not None else "")
        else:
            # The core does not follow a caller's place while it moves up; where it left from
            # is not known cheaply, its place on joining is.
            orig = c.original_position or 1
            rec = qlog.finished(c, position=orig, orig_position=orig)
        if rec is not None:
            self._queue_log(rec)

    def _queue_log_agent(self, c: cmd.AgentStateChanged) -> None:
        if not self.spec.queue_log:
            return
        a = self.service.router.agents.get(c.agent_id)
        if a is None or self.service.config.node_of_pool(a.spec.pool) != self.node:
            return
        for rec in qlog.agent_state(c):
            self._queue_log(rec)

    # ------------------------------------------------------------------ snapshot helpers

    def caller_vanished(self, caller: CallerLeg) -> None:
        """The caller's channel is gone and its Hangup was missed (connection down)."""
        if caller.stage == "connected":
            self._end_connected(caller, "unknown")
        self._caller_gone(caller, "caller")

    def bridge_vanished(self, caller: CallerLeg) -> None:
        """A connected caller without its bridge: the call is over; do not leave it in silence."""
        if caller.stage == "connected":
            self._end_connected(caller, "unknown")
        self.enqueue(act.hangup(caller.channel))

    def leg_answered(self, leg: AgentLeg, caller: CallerLeg) -> None:
        leg.state = "answered"
        caller.stage = "connected"
        caller.agent_leg = leg
        self.submit(ev.OfferAccepted(leg.iid, leg.agent_id))

    def leg_vanished(self, leg: AgentLeg) -> None:
        """Every channel of the leg is gone and their Hangups were missed (drift check)."""
        leg.alive.clear()
        if leg.state in ("sending", "queued", "unknown"):
            self.leg_failed(leg, "failed", "agent leg gone")
            return
        if leg.state == "answered":
            owner = self.by_iid.get(leg.iid)
            if owner is not None and owner.stage == "connected":
                self.bridge_vanished(owner)
        self.forget_leg(leg)

    @staticmethod
    def device_busy_of(state: str) -> bool | None:
        return True if state in DEVICE_BUSY else False if state in DEVICE_FREE else None

    def device_busy(self, agent_id: str) -> bool:
        return self._device_busy.get(agent_id, False)

    def set_device_checked(self, agent_id: str, busy: bool) -> bool:
        """Apply a device state found by a drift check; False when it is not the node's to set."""
        if agent_id in self._blocked or self.has_router_call(agent_id):
            return False
        self._set_device(agent_id, busy)
        return True

    def has_sip_agents(self) -> bool:
        return bool(self._device_agent)

    def agent_of_device(self, device: str) -> str | None:
        return self._device_agent.get(device)

    def sync_devices(self, busy: set[str]) -> None:
        for aid in self._device_agent.values():
            if aid not in self._blocked:
                self._set_device(aid, aid in busy)

    # ------------------------------------------------------------------ health

    def health(self) -> dict[str, object]:
        conn = self.conn
        return {
            "node": self.node,
            "ready": self.ready,
            "connected": bool(conn is not None and conn.connected),
            "connects": self.connects,
            "callers": len(self.by_iid),
            "agent_legs": len(self.legs),
            "outbox": len(self._outbox),
            "drift_checks": self.drift_checks,
            "drift": dict(self.drift),
            "last_error": self.last_error,
        }
