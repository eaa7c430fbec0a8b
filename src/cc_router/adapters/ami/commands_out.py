"""Core commands -> AMI actions for one node (no IO): Offer becomes an Originate towards
the agent, CancelOffer a Hangup of its leg, ExitInteraction a Redirect to ccr-exit, and
the interaction and agent commands queue_log lines. The registry is updated as it goes.

Events found here (an offer that cannot be placed) are for the node to submit after the
current sink pass: sinks must not re-enter the router.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import structlog

from cc_router.adapters.ami import actions as act
from cc_router.adapters.ami.connection import ConnectionLost, Reply
from cc_router.adapters.ami.effects import Effect, Effects, LogLine, ReplyHandler, Send
from cc_router.adapters.ami.events_in import AmiToCore
from cc_router.adapters.ami.registry import PENDING, AgentLeg, CallerStage, LegState
from cc_router.adapters.ami.trunk import RemoteLeg, remote_leg, with_remote
from cc_router.core import commands as cmd
from cc_router.core import events as ev
from cc_router.core.spec import Channel
from cc_router.core.vocabulary import CancelReason, DeclineReason
from cc_router.store import queue_log as qlog

log = structlog.get_logger("cc_router.ami.node")


class Link(Protocol):
    """The connection an Originate will go out on: its ActionID is chosen here, so the
    reply and the OriginateResponse can be matched to the leg."""

    @property
    def connected(self) -> bool: ...

    def action_id_for_next(self) -> str: ...


CommandHook = Callable[[cmd.Command, float, "Link | None", list[Effect]], bool]
"""Another part's translation of a command (callbacks): True when it took the command.
Marked with `service.handles`, it is asked only about commands of those types."""
Step = Callable[[Any, float, "Link | None", list[Effect]], None]


class CoreToAmi:
    """Core commands of one node -> effects (`translate`); shares the registry with `ami_in`."""

    def __init__(self, ami_in: AmiToCore) -> None:
        self.ami_in = ami_in
        self.registry = ami_in.registry
        self.setup = ami_in.setup
        self.spec = ami_in.spec
        self.node = ami_in.node
        self.hooks: list[CommandHook] = []
        # By the command's class (commands are final classes): one lookup per command
        # instead of a chain of isinstance checks, and nothing for the commands no AMI
        # action follows from (WrapUpEnded, EventRejected...).
        self._steps: dict[type, Step] = {
            cmd.Offer: self._offer,
            cmd.CancelOffer: self._cancel,
            cmd.ExitInteraction: self._exit,
            cmd.InteractionQueued: self._queue_log_interaction,
            cmd.InteractionConnected: self._queue_log_interaction,
            cmd.InteractionFinished: self._queue_log_interaction,
            cmd.AgentStateChanged: self._queue_log_agent,
        }

    def translate(self, commands: Sequence[cmd.Command], now: float, link: Link | None) -> Effects:
        """The commands that concern this node -> effects, in order."""
        out: list[Effect] = []
        hooks = self.hooks
        steps = self._steps
        for c in commands:
            kind = type(c)
            try:
                if hooks and self._hooked(c, kind, now, link, out):
                    continue
                step = steps.get(kind)
                if step is not None:
                    step(c, now, link, out)
            except Exception:
                log.exception("ami_command_failed", node=self.node, command=kind.__name__)
        return out

    def _hooked(self, c: cmd.Command, kind: type, now: float, link: Link | None, out: list[Effect]) -> bool:
        for hook in self.hooks:
            wanted = getattr(hook, "handles", None)
            if (wanted is None or kind in wanted) and hook(c, now, link, out):
                return True
        return False

    def _offer(self, c: cmd.Offer, now: float, link: Link | None, out: list[Effect]) -> None:
        if c.channel is not Channel.VOICE:
            return
        caller = self.registry.by_iid.get(c.interaction_id)
        if caller is None:
            return
        a = self.setup.router.agents.get(c.agent_id)
        endpoint = a.spec.endpoint if a is not None else ""
        agent_node = self.setup.config.node_of_pool(a.spec.pool) if a is not None else None
        channel_id = self.registry.next_leg_id()
        action_id = link.action_id_for_next() if link is not None else f"{channel_id}-x"
        leg = AgentLeg(
            c.offer_id, c.interaction_id, c.agent_id, c.queue, channel_id, f"{channel_id}-2", action_id, now
        )
        self.registry.add_leg(leg)
        caller.agent_leg = leg
        remote: RemoteLeg | None = None
        if agent_node is not None and agent_node != self.node:
            remote = remote_leg(self.setup.config, self.node, agent_node, endpoint, c.timeout_s)
        routable = bool(endpoint) and (agent_node == self.node or remote is not None)
        if not routable or link is None or not link.connected:
            if not routable:
                log.error(
                    "ami_offer_unroutable",
                    node=self.node,
                    agent=c.agent_id,
                    agent_node=agent_node,
                    endpoint=endpoint,
                )
            leg.state = LegState.DONE
            out.append(ev.OfferDeclined(c.interaction_id, c.agent_id, DeclineReason.FAILED))
            self.registry.forget_leg(leg)
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
            offer_id=c.offer_id,
        )
        if remote is not None:
            action = with_remote(action, remote)
        log.debug(
            "ami_originate",
            node=self.node,
            iid=c.interaction_id,
            agent=c.agent_id,
            endpoint=endpoint,
            channel_id=channel_id,
            agent_node=agent_node,
        )
        out.append(Send(action, self._originate_reply(leg)))

    def _originate_reply(self, leg: AgentLeg) -> ReplyHandler:
        def done(reply: Reply | None, exc: BaseException | None, now: float) -> Effects:
            if isinstance(exc, ConnectionLost):
                if leg.state is LegState.SENDING:
                    leg.state = LegState.UNKNOWN  # settled by the snapshot after reconnecting
                return ()
            if isinstance(reply, dict) and reply.get("Response") == "Success":
                if leg.state is LegState.SENDING:
                    leg.state = LegState.QUEUED
                return ()
            if leg.state is LegState.SENDING or leg.state is LegState.QUEUED:
                return self.ami_in.leg_failed(leg, DeclineReason.FAILED, "Originate refused", now)
            return ()

        return done

    def _cancel(self, c: cmd.CancelOffer, now: float, link: Link | None, out: list[Effect]) -> None:
        leg = self.registry.legs.get(c.offer_id)
        if leg is None or leg.state not in PENDING:
            return
        leg.state = LegState.CANCELLED
        out.append(Send(act.hangup(leg.channel_id)))
        if c.reason is CancelReason.TIMEOUT:
            out += self.ami_in.queue_log(
                qlog.ring_no_answer(leg.iid, leg.queue, leg.agent_id, now, now - leg.sent_at)
            )

    def _exit(self, c: cmd.ExitInteraction, now: float, link: Link | None, out: list[Effect]) -> None:
        caller = self.registry.by_iid.get(c.interaction_id)
        if caller is None:
            return
        caller.stage = CallerStage.DONE
        exten = act.exit_extension(c.target)
        log.info("ami_exit", node=self.node, iid=c.interaction_id, exten=exten, reason=c.reason)
        out.append(Send(act.redirect(caller.channel, exten), self.ami_in.hangup_unless_moved(caller)))

    def _queue_log_interaction(
        self,
        c: cmd.InteractionQueued | cmd.InteractionConnected | cmd.InteractionFinished,
        now: float,
        link: Link | None,
        out: list[Effect],
    ) -> None:
        # Only what the registry holds now is taken here (the caller is forgotten once it
        # has left); the record is built with the batch (`LogLine`).
        if not self.spec.queue_log:
            return
        caller = self.registry.by_iid.get(c.interaction_id)
        if caller is None:
            return
        if isinstance(c, cmd.InteractionQueued):
            out.append(LogLine(qlog.enter_queue, (c, caller.caller_num, "", c.original_position or 1)))
        elif isinstance(c, cmd.InteractionConnected):
            leg = caller.agent_leg
            ring = c.at - leg.sent_at if leg is not None else 0.0
            out.append(LogLine(qlog.connect, (c, ring, leg.channel_id if leg is not None else "")))
        else:
            # The core does not follow a caller's place while it moves up; where it left from
            # is not known cheaply, its place on joining is.
            orig = c.original_position or 1
            out.append(LogLine(qlog.finished, (c, orig, orig)))

    def _queue_log_agent(
        self, c: cmd.AgentStateChanged, now: float, link: Link | None, out: list[Effect]
    ) -> None:
        if not self.spec.queue_log or c.restored:
            # A restored session is where the agent already was: the queue_log has its
            # ADDMEMBER and PAUSE from before the restart (20,000 agents: 40,000 lines).
            return
        a = self.setup.router.agents.get(c.agent_id)
        if a is None or self.setup.config.node_of_pool(a.spec.pool) != self.node:
            return
        out.append(LogLine(qlog.agent_state, (c,)))
