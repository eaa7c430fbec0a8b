"""Callbacks on one node: the key a caller on hold presses, the thank-you once the request
is stored, and each attempt: the agent is rung first (ccr-callback), then the customer is
dialled from this node and the two are bridged (dialplans/README.md, `ccr-callback`).

Like the translators, `CallbackDialer` does no IO: it returns effects for the node to
carry out. `attach(node, ...)` plugs it into the node's translators.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import structlog

from cc_router.adapters.ami import actions as act
from cc_router.adapters.ami.commands_out import CommandHook, Link
from cc_router.adapters.ami.connection import ConnectionLost
from cc_router.adapters.ami.effects import NOTHING, Effect, Effects, Send
from cc_router.adapters.ami.events_in import AmiToCore, Ended
from cc_router.adapters.ami.protocol import Message, header
from cc_router.adapters.ami.registry import PENDING, AgentLeg, CallerStage, LegState
from cc_router.core import commands as cmd
from cc_router.core import events as ev
from cc_router.core.spec import Channel
from cc_router.core.vocabulary import CallbackResult, CallbackSource, DeclineReason
from cc_router.service import handles
from cc_router.store.queue_log import QueueLogRecord

log = structlog.get_logger("cc_router.ami.callbacks")

CALLBACK_CONTEXT = "ccr-callback"
THANKS_EXTEN = "callback"
"""ccr-exit extension that thanks the caller and hangs up once its callback is stored."""

DIAL_STATUS: dict[str, CallbackResult] = {
    "ANSWER": CallbackResult.ANSWERED,
    "NOANSWER": CallbackResult.NO_ANSWER,
    "BUSY": CallbackResult.BUSY,
}
"""Dial()'s DIALSTATUS -> attempt result; anything else (CONGESTION, CHANUNAVAIL,
CANCEL: the agent hung up first) is `failed`."""

_NOT_DIALLABLE = re.compile(r"[^0-9+*#]")


@dataclass(slots=True, eq=False)
class CallbackTarget:
    """A customer to call back from this node."""

    iid: str
    number: str
    name: str
    queue: str
    answered: bool = False
    leg: AgentLeg | None = None


class CallbackDialer:
    def __init__(self, ami_in: AmiToCore, *, durable: bool) -> None:
        self.ami_in = ami_in
        self.registry = ami_in.registry
        self.setup = ami_in.setup
        self.node = ami_in.node
        self.durable = durable
        """True: the caller is thanked (and hangs up) only once `stored` says its request is
        in SQL; False (no store attached): at once."""
        self.targets: dict[str, CallbackTarget] = {}
        self.untold: dict[str, str] = {}
        """Callers whose callback is not stored yet: interaction id -> channel to thank."""

    # ------------------------------------------------------------------ callbacks known

    def add_target(self, target: CallbackTarget) -> None:
        """A callback read back from the store after a restart."""
        self.targets[target.iid] = target

    def stored(self, iid: str) -> Effects:
        """The request is durable: thank the caller, who then hangs up."""
        channel = self.untold.pop(iid, None)
        if channel is None:
            return NOTHING
        return (Send(act.redirect(channel, THANKS_EXTEN)),)

    # ------------------------------------------------------------------ commands (CoreToAmi hook)

    @handles(cmd.CallbackAccepted, cmd.Offer, cmd.CallbackAttempted, cmd.InteractionFinished)
    def on_command(self, c: cmd.Command, now: float, link: Link | None, out: list[Effect]) -> bool:
        if isinstance(c, cmd.CallbackAccepted):
            self._accepted(c, out)
            return True
        if isinstance(c, cmd.Offer):
            target = self.targets.get(c.interaction_id)
            if target is None or c.channel is not Channel.VOICE:
                return False
            self._ring_agent(c, target, now, link, out)
            return True
        if isinstance(c, cmd.CallbackAttempted):
            target = self.targets.get(c.interaction_id)
            if target is not None:
                out += self._queue_log(
                    c, "CALLBACKATTEMPT", c.agent_id, (str(c.attempt), str(c.result), _epoch(c.next_at))
                )
            return True
        if isinstance(c, cmd.InteractionFinished) and c.interaction_id in self.targets:
            self.targets.pop(c.interaction_id, None)
            self.untold.pop(c.interaction_id, None)
            return False  # its queue_log line is written as for any call
        return False

    def _accepted(self, c: cmd.CallbackAccepted, out: list[Effect]) -> None:
        caller = self.registry.by_iid.get(c.interaction_id)
        if caller is None:
            return  # restored (its target is added from the store) or on another node
        # The caller's channel no longer stands for the interaction: its hang-up after
        # the thank-you is not an abandon, and an offer now rings the agent for a callback.
        caller.stage = CallerStage.DONE
        del self.registry.by_iid[c.interaction_id]
        self.targets[c.interaction_id] = CallbackTarget(
            c.interaction_id, caller.caller_num, caller.caller_name, c.queue
        )
        log.info("ami_callback_accepted", node=self.node, iid=c.interaction_id, source=c.source)
        out += self._queue_log(c, "CALLBACK", "NONE", (str(c.source),))
        if c.source is CallbackSource.RESTORED:
            return
        if self.durable:
            self.untold[c.interaction_id] = caller.channel
        else:
            out.append(Send(act.redirect(caller.channel, THANKS_EXTEN)))

    def _ring_agent(
        self, c: cmd.Offer, target: CallbackTarget, now: float, link: Link | None, out: list[Effect]
    ) -> None:
        a = self.setup.router.agents.get(c.agent_id)
        endpoint = a.spec.endpoint if a is not None else ""
        agent_node = self.setup.config.node_of_pool(a.spec.pool) if a is not None else None
        registry = self.registry
        channel_id = registry.next_leg_id()
        action_id = link.action_id_for_next() if link is not None else f"{channel_id}-x"
        leg = AgentLeg(
            c.offer_id, c.interaction_id, c.agent_id, c.queue, channel_id, f"{channel_id}-2", action_id, now
        )
        registry.add_leg(leg)
        target.leg = leg
        target.answered = False
        number = _NOT_DIALLABLE.sub("", target.number)
        if not endpoint or agent_node != self.node or link is None or not link.connected or not number:
            log.error(
                "ami_callback_unroutable", node=self.node, iid=c.interaction_id, agent=c.agent_id,
                agent_node=agent_node, has_number=bool(number),
            )  # fmt: skip
            leg.state = LegState.DONE
            registry.forget_leg(leg)
            out.append(ev.OfferDeclined(c.interaction_id, c.agent_id, DeclineReason.FAILED))
            return
        config = self.setup.config
        spec = next((q for q in config.queues if q.name == c.queue), None)
        ring_s = spec.callback.ring_s if spec is not None and spec.callback is not None else 30.0
        action = act.originate(
            action_id=action_id,
            endpoint=endpoint,
            timeout_s=c.timeout_s,
            channel_id=leg.channel_id,
            other_channel_id=leg.other_id,
            caller_uniqueid="",
            interaction_id=c.interaction_id,
            agent_id=c.agent_id,
            caller_name=target.name,
            caller_num=number,
        )
        action["Context"] = CALLBACK_CONTEXT
        action["Variable"] = [
            f"__CCR_IID={c.interaction_id.replace(',', '_')}",
            f"CCR_AGENT={c.agent_id.replace(',', '_')}",
            f"CCR_DIAL={config.callbacks.dial_for(self.node, number).replace(',', '_')}",
            f"CCR_RING={max(1, round(ring_s))}",
        ]
        log.info("ami_callback_ring_agent", node=self.node, iid=c.interaction_id, agent=c.agent_id)
        out.append(Send(action, self._refused(leg)))

    def _refused(self, leg: AgentLeg) -> Callable[[object, BaseException | None, float], Effects]:
        def done(reply: object, exc: BaseException | None, now: float) -> Effects:
            if isinstance(exc, ConnectionLost):
                if leg.state is LegState.SENDING:
                    leg.state = LegState.UNKNOWN  # settled by the snapshot after reconnecting
                return NOTHING
            ok = isinstance(reply, dict) and reply.get("Response") == "Success"
            if exc is None and not ok and leg.state in PENDING:
                return self.ami_in.leg_failed(leg, DeclineReason.FAILED, "Originate refused", now)
            if ok and leg.state is LegState.SENDING:
                leg.state = LegState.QUEUED
            return NOTHING

        return done

    def _queue_log(self, c: cmd.Command, event: str, agent: str, data: tuple[str, ...]) -> list[Effect]:
        iid = getattr(c, "interaction_id", "")
        queue = getattr(c, "queue", "")
        at = getattr(c, "at", 0.0)
        return self.ami_in.queue_log(QueueLogRecord(int(at), iid, queue, agent, event, data))

    # ------------------------------------------------------------------ events

    def on_dtmf(self, frame: bytes, now: float) -> Effects:
        """DTMFEnd: the configured key from a caller on hold whose queue offers callbacks."""
        if header(frame, b"Direction: ") != "Received":
            return NOTHING
        caller = self.registry.callers.get(header(frame, b"Uniqueid: "))
        if caller is None or caller.stage is not CallerStage.WAITING:
            return NOTHING
        if header(frame, b"Digit: ") != self.setup.config.callbacks.key:
            return NOTHING
        it = self.setup.router.interactions.get(caller.iid)
        policy = it.queue.spec.callback if it is not None else None
        if it is None or policy is None or policy.offer_after_s is None:
            return NOTHING
        if now - it.queue_joined_at < policy.offer_after_s:
            return NOTHING  # not offered yet: a key pressed early is not a request
        log.info("ami_callback_key", node=self.node, iid=caller.iid)
        return (ev.CallbackRequested(caller.iid),)

    def on_agent(self, msg: Message, now: float) -> Effects:
        """CCRCallbackAgent: the agent answered; the customer is being dialled."""
        leg = self.registry.leg_by_uid.get(msg.get("Uniqueid", ""))
        target = self.targets.get(msg.get("IID", ""))
        if leg is None or target is None or leg.state not in PENDING or target.leg is not leg:
            return (Send(act.hangup(msg.get("Channel", "") or msg.get("Uniqueid", ""))),)
        leg.state = LegState.ANSWERED
        return (ev.OfferAccepted(leg.iid, leg.agent_id),)

    def on_answered(self, msg: Message, now: float) -> Effects:
        """CCRCallbackAnswered (raised on the customer's channel): both are bridged."""
        target = self.targets.get(msg.get("IID", ""))
        if target is None or target.leg is None or target.leg.state is not LegState.ANSWERED:
            return NOTHING
        target.answered = True
        return (ev.CallbackAttemptEnded(target.iid, CallbackResult.ANSWERED),)

    def on_result(self, msg: Message, now: float) -> Effects:
        """CCRCallbackResult: Dial() returned (or the agent hung up): the attempt or the call is over."""
        target = self.targets.get(msg.get("IID", ""))
        # The agent's side may have hung up (its Hangup read, the leg settled) before this
        # event from the other half of its channel: the attempt under way is what counts.
        if target is None or target.leg is None or target.leg.state in PENDING:
            return NOTHING
        leg = target.leg
        if leg.state is LegState.ANSWERED:
            leg.state = LegState.DONE
        target.leg = None
        if target.answered:
            side = Ended.AGENT if msg.get("Ended") == "agent" else Ended.CALLER
            return (ev.InteractionEnded(target.iid, side),)
        result = DIAL_STATUS.get(msg.get("Status", ""), CallbackResult.FAILED)
        log.info("ami_callback_attempt_failed", node=self.node, iid=target.iid, status=msg.get("Status"))
        return (ev.CallbackAttemptEnded(target.iid, result),)


def attach(ami_in: AmiToCore, hooks: list[CommandHook], *, durable: bool) -> CallbackDialer:
    """Plug a dialer into a node's translators (its event tables and command hooks)."""
    dialer = CallbackDialer(ami_in, durable=durable)
    ami_in.handlers["DTMFEnd"] = dialer.on_dtmf
    ami_in.user_handlers["CCRCallbackAgent"] = dialer.on_agent
    ami_in.user_handlers["CCRCallbackAnswered"] = dialer.on_answered
    ami_in.user_handlers["CCRCallbackResult"] = dialer.on_result
    hooks.append(dialer.on_command)
    return dialer


def _epoch(t: float | None) -> str:
    return "" if t is None else str(int(t))
