"""One Asterisk node: the parts of the adapter put together.

- `Supervisor` (supervisor.py) keeps the AMI session up and holds the outbox;
- `AmiToCore` (events_in.py) turns each AMI event into core events;
- `CoreToAmi` (commands_out.py) turns core commands into AMI actions;
- `Registry` (registry.py) is what both know of the node's callers and agent legs;
- `rebuild` (snapshot.py) after every connect, `DriftCheck` (drift.py) while connected.

The translators do no IO: they return effects, and `apply` here is the one place that
submits events to the core and hands actions to the supervisor.
"""

from __future__ import annotations

import asyncio
import secrets
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from time import time as wall_clock

import structlog
from pydantic import SecretStr

from cc_router.adapters.ami import actions as act
from cc_router.adapters.ami.arrivals import ARRIVAL_EVENT
from cc_router.adapters.ami.commands_out import CoreToAmi
from cc_router.adapters.ami.connection import AmiConnection, AmiError, ConnectionLost, Reply
from cc_router.adapters.ami.drift import DriftCheck
from cc_router.adapters.ami.effects import DropCaller, Effects, LogLine, ReplyHandler, Send
from cc_router.adapters.ami.events_in import AmiToCore
from cc_router.adapters.ami.outage import drop_all
from cc_router.adapters.ami.protocol import Message, header, parse_frame
from cc_router.adapters.ami.reads import AsteriskReads, Checker
from cc_router.adapters.ami.registry import Registry
from cc_router.adapters.ami.snapshot import rebuild
from cc_router.adapters.ami.supervisor import OnReply, Supervisor
from cc_router.config.models import AsteriskNode
from cc_router.core import commands as cmd
from cc_router.core import events as ev
from cc_router.core.vocabulary import DeclineReason
from cc_router.ha.gate import outbox_gate
from cc_router.service import Handled, Service

log = structlog.get_logger("cc_router.ami.node")

UserEventCallback = Callable[[Message], None]
NOT_EVENTS = (Send, DropCaller, LogLine)


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
        """Component name; also the node's readiness check (/readyz)."""
        self.node = spec.name
        self.registry = Registry(run_token=secrets.token_hex(3))
        self.ami_in = AmiToCore(self.registry, service, spec, prefix=f"{spec.name}." if multi_node else "")
        self.ami_out = CoreToAmi(self.ami_in)
        secret = secret or spec.secret or SecretStr("")
        self.supervisor = Supervisor(
            spec,
            secret,
            self,
            self.on_ami_event,
            name=self.name,
            may_send=outbox_gate(service),
            on_arrival=self.on_arrival_event,
        )
        self.checker = Checker(
            self.registry, self.ami_in, AsteriskReads(self.supervisor.send_action), self.apply
        )
        self.drift_check = DriftCheck(self.checker, interval_s=spec.drift_check_s)
        self._user_hooks: dict[str, list[UserEventCallback]] = {}
        self._handlers = self.ami_in.handlers  # the same dict: replacing an entry there counts here
        self._drop_timer: asyncio.TimerHandle | None = None
        self.early_arrivals = 0
        """Callers admitted from the arrivals session, ahead of the main session's batch."""
        self.ami_in.index_agents()

    # ------------------------------------------------------------------ public hooks

    def attach(self) -> None:
        """Join the service: commands in (`on_commands`), batches of what was handled
        (`on_batch`, which writes the gathered queue_log lines)."""
        self.service.sinks.append(self.on_commands)
        self.service.observers.append(self.on_batch)

    def detach(self) -> None:
        if self.on_commands in self.service.sinks:
            self.service.sinks.remove(self.on_commands)
        if self.on_batch in self.service.observers:
            self.service.observers.remove(self.on_batch)
        self.supervisor.write_log_lines()

    def on_user_event(self, name: str, callback: UserEventCallback) -> None:
        self._user_hooks.setdefault(name, []).append(callback)

    async def send_action(self, action: Mapping[str, str | Sequence[str]]) -> Reply:
        return await self.supervisor.send_action(action)

    def enqueue(self, action: act.Action, on_reply: OnReply | None = None) -> None:
        """Fire-and-forget through the node's outbox (see Supervisor.enqueue)."""
        self.supervisor.enqueue(action, on_reply)

    def index_agents(self) -> None:
        """Map devices and endpoints to this node's agents (again after a config change)."""
        self.ami_in.index_agents()

    def stop(self) -> None:
        """Disconnect for good (drained away by a reload, fleet.py): `run` returns."""
        if self._drop_timer is not None:
            self._drop_timer.cancel()
            self._drop_timer = None
        self.supervisor.stop()

    async def run(self) -> None:
        # Agents restored from the store may be on calls the snapshot has yet to see: none
        # is offered a caller before the first snapshot has read the device states.
        self.apply(self.ami_in.block_agents())
        await self.supervisor.run()

    # ------------------------------------------------------------------ effects

    def apply(self, effects: Effects) -> None:
        """Carry out what a translator returned, in order."""
        for e in effects:
            if isinstance(e, Send):
                self.supervisor.enqueue(e.action, None if e.on_reply is None else self._on_reply(e.on_reply))
            elif isinstance(e, LogLine):
                self.supervisor.log_later(e.actions)
            elif isinstance(e, DropCaller):
                self.registry.drop_caller(e.caller)
            else:
                out = self.service.submit(e)
                if isinstance(e, ev.InteractionArrived | ev.InteractionAdopted):
                    self._check_arrival(e, out)

    def _on_reply(self, handler: ReplyHandler) -> OnReply:
        def done(reply: Reply | None, exc: BaseException | None) -> None:
            self.apply(handler(reply, exc, wall_clock()))

        return done

    def _check_arrival(
        self, e: ev.InteractionArrived | ev.InteractionAdopted, out: Sequence[cmd.Command]
    ) -> None:
        for c in out:
            if (
                isinstance(c, cmd.EventRejected)
                and c.event is not None
                and getattr(c.event, "interaction_id", "") == e.interaction_id
            ):
                log.warning("ami_arrival_rejected", node=self.node, iid=e.interaction_id, reason=c.reason)

    # ------------------------------------------------------------------ events in, commands out

    def on_ami_event(self, name: str, frame: bytes) -> None:
        """Every event of the session (the supervisor's `on_event`): AmiToCore.feed inlined,
        as this runs for each of the ~33 frames of a call."""
        handler = self._handlers.get(name)
        if handler is None:
            return
        if self._user_hooks and name == "UserEvent":
            hooks = self._user_hooks.get(header(frame, b"UserEvent: "))
            if hooks:
                self._hooked_user_event(parse_frame(frame), hooks)
                return
        effects = handler(frame, wall_clock())
        if effects:
            self.apply(effects)

    def on_arrival_event(self, name: str, frame: bytes) -> None:
        """CCREnqueue read on the arrivals session (arrivals.py): the caller is admitted now,
        not in the main session's next batch, where its copy then finds it held. Hooks
        run on that copy, once."""
        if name != "UserEvent" or not self.supervisor.ready:
            return
        msg = parse_frame(frame)
        if msg.get("UserEvent") != ARRIVAL_EVENT or self.registry.knows(msg.get("Uniqueid", "")):
            return  # already held, or hung up already (its Hangup came first)
        self.early_arrivals += 1
        effects = self.ami_in.user_message(msg, wall_clock())
        if effects:
            self.apply(effects)

    def _hooked_user_event(self, msg: Message, hooks: list[UserEventCallback]) -> None:
        self.apply(self.ami_in.user_message(msg, wall_clock()))
        for hook in hooks:
            try:
                hook(msg)
            except Exception:
                log.exception("ami_user_event_hook_failed", node=self.node, user_event=msg["UserEvent"])

    def on_batch(self, batch: Sequence[Handled]) -> None:
        """Service observer: the queue_log lines of what was handled go out with the batch
        (Supervisor.write), once per batch instead of on each event's routing path."""
        self.supervisor.write_log_lines()

    def on_commands(self, commands: Sequence[cmd.Command], now: float) -> None:
        """Service sink: the commands that concern this node become actions. Events found
        on the way are submitted after this sink pass (sinks must not re-enter the router)."""
        effects = self.ami_out.translate(commands, now, self.supervisor.conn)
        if not effects:
            return
        loop: asyncio.AbstractEventLoop | None = None
        for e in effects:
            if isinstance(e, NOT_EVENTS):
                self.apply((e,))
            else:
                loop = loop or asyncio.get_running_loop()
                loop.call_soon(self.service.submit, e)

    # ------------------------------------------------------------------ connection states (supervisor.Owner)

    def on_unreachable(self, refused: bool = False) -> None:
        self.apply(self.ami_in.block_agents())
        self._node_lost(refused=refused)

    async def on_up(self) -> None:
        self.ami_in.outage.seen_started(await self._startup_time())
        await rebuild(self.checker)
        if self._drop_timer is not None:
            self._drop_timer.cancel()
            self._drop_timer = None
        self.apply(self.ami_in.outage.node_back())

    async def _startup_time(self) -> str:
        """When Asterisk started (CoreStatus), to tell a restart from a link that dropped."""
        try:
            reply = await asyncio.wait_for(self.supervisor.send_action({"Action": "CoreStatus"}), 5.0)
        except (AmiError, ConnectionLost, TimeoutError) as exc:
            log.info("ami_core_status_unknown", node=self.node, error=str(exc))
            return ""
        if not isinstance(reply, dict) or reply.get("Response") != "Success":
            return ""
        return f"{reply.get('CoreStartupDate', '')} {reply.get('CoreStartupTime', '')}".strip()

    def _node_lost(self, *, refused: bool = False) -> None:
        outage = self.ami_in.outage
        self.apply(outage.node_lost(refused=refused))
        if outage.overdue and outage.dead:
            self._drop_callers()
        elif self._drop_timer is None and self.spec.drop_callers_after_s > 0:
            loop = asyncio.get_running_loop()
            self._drop_timer = loop.call_later(self.spec.drop_callers_after_s, self._drop_callers)

    def _drop_callers(self) -> None:
        outage = self.ami_in.outage
        outage.overdue = True
        if not outage.dead:
            if self.registry.callers and not outage.dropped:
                log.warning(
                    "ami_node_callers_kept", node=self.node, callers=len(self.registry.by_iid),
                    why="link lost, Asterisk not known dead: recorded once it answers or refuses",
                )  # fmt: skip
            return
        dropped = drop_all(self.registry, outage)
        if dropped:
            log.warning("ami_node_callers_dropped", node=self.node, callers=len(outage.dropped))
        self.apply(dropped)

    async def while_up(self) -> None:
        await self.drift_check.loop(lambda: self.supervisor.ready)

    def on_lost(self) -> None:
        # Originates not yet written can still be refused cleanly; written ones have an
        # unknown fate until the snapshot after reconnecting.
        # Block first: a declined offer must not be re-offered to another agent here.
        self.apply(self.ami_in.block_agents())
        self._node_lost()
        for action in self.supervisor.take_unsent("Originate"):
            leg = self.registry.leg_by_action.get(str(action.get("ActionID")))
            if leg is not None:
                self.apply(self.ami_in.leg_failed(leg, DeclineReason.FAILED, "not connected", wall_clock()))

    # ------------------------------------------------------------------ state for tests, health, metrics

    @property
    def conn(self) -> AmiConnection | None:
        return self.supervisor.conn

    @conn.setter
    def conn(self, conn: AmiConnection | None) -> None:
        self.supervisor.conn = conn

    @property
    def ready(self) -> bool:
        """Logged in and the state rebuilt from Asterisk's snapshot: routing is live."""
        return self.supervisor.ready

    @property
    def connects(self) -> int:
        return self.supervisor.connects

    @property
    def exit_unknown_numbers(self) -> bool:
        """False where several routers share one Asterisk (tests): leave others' callers alone."""
        return self.ami_in.exit_unknown_numbers

    @exit_unknown_numbers.setter
    def exit_unknown_numbers(self, value: bool) -> None:
        self.ami_in.exit_unknown_numbers = value

    @property
    def drift(self) -> Counter[str]:
        """Drift items confirmed since start, by kind (drift.py); read by /metrics."""
        return self.drift_check.found

    def health(self) -> dict[str, object]:
        link = self.supervisor.health()
        return {
            "node": self.node,
            "ready": link["ready"],
            "connected": link["connected"],
            "connects": link["connects"],
            "callers": len(self.registry.by_iid),
            "agent_legs": len(self.registry.legs),
            "outbox": link["outbox"],
            "arrivals_session": link["arrivals_session"],
            "early_arrivals": self.early_arrivals,
            "drift_checks": self.drift_check.checks,
            "drift": dict(self.drift_check.found),
            "last_error": link["last_error"],
        }
