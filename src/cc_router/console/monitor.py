"""Listen, whisper, barge: the supervisor's own phone is rung and, once it answers, joined
to an agent's call with ChanSpy (dialplans/ccr-console.conf, context `ccr-console-spy`).

- listen: ChanSpy `q`: hears caller and agent, heard by neither.
- whisper: `w`: heard by the agent only (coaching).
- barge: `B`: heard by both.

Switching mode does not hang up: the channel variable CCR_SPY_MODE is set on the
supervisor's leg and the leg is redirected into ChanSpy again. On the phone, 4 / 5 / 6
switch to listen / whisper / barge (ChanSpy `d`). A monitor ends when the supervisor
hangs up, the agent's call ends (`E`), or `stop` hangs the supervisor's leg up; the
component below notices within a second either way.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import structlog

from cc_router.console.recording import CallerLegs
from cc_router.core.spec import Channel
from cc_router.service import Service

log = structlog.get_logger("cc_router.monitor")

SPY_CONTEXT = "ccr-console-spy"
POLL_S = 1.0


class MonitorMode(StrEnum):
    LISTEN = "listen"
    WHISPER = "whisper"
    BARGE = "barge"


class MonitorError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Monitor:
    agent_id: str
    user: str
    mode: MonitorMode
    phone: str
    spy_id: str
    """ChannelId of the supervisor's leg (its Uniqueid; AMI actions accept it as Channel)."""
    interaction_id: str
    started_at: float
    node: CallerLegs

    def public(self) -> dict[str, Any]:
        return {
            "agent_id": self.agent_id,
            "user": self.user,
            "mode": self.mode.value,
            "phone": self.phone,
            "interaction_id": self.interaction_id,
            "started_at": self.started_at,
        }


def _ok(reply: dict[str, str]) -> bool:
    return reply.get("Response", "") == "Success"


async def _send(node: CallerLegs, action: dict[str, str | list[str]]) -> dict[str, str]:
    """The reply as a dict; a node that is down or a failed action is an Error reply."""
    try:
        reply = await node.send_action(action)
    except Exception as e:  # ConnectionLost, AmiError: the caller decides what it means
        return {"Response": "Error", "Message": f"{type(e).__name__}: {e}"}
    if not isinstance(reply, dict):
        return {"Response": "Error", "Message": "unexpected list reply"}
    return {str(k): str(v) for k, v in reply.items()}


Ended = Callable[[Monitor, str], Awaitable[None]]


class Monitors:
    """The monitors in progress (one per agent) and the component that notices their end."""

    name = "monitors"

    def __init__(
        self, service: Service, nodes: Iterable[CallerLegs], clock: Callable[[], float] = time.time
    ) -> None:
        self.service = service
        self.nodes = list(nodes)
        self.clock = clock
        self.active: dict[str, Monitor] = {}
        self.on_end: list[Ended] = []
        """Called once per monitor that ended by itself (hang-up), with why."""

    def public(self) -> list[dict[str, Any]]:
        return [m.public() for m in self.active.values()]

    def _call_of(self, agent_id: str) -> tuple[str, CallerLegs, str]:
        """(interaction, node, the agent leg's Uniqueid) of the agent's voice call."""
        rec = self.service.router.agents.get(agent_id)
        if rec is None:
            raise MonitorError(404, f"unknown agent {agent_id!r}")
        calls = [iid for iid, ch in rec.connected.items() if ch is Channel.VOICE]
        if not calls:
            raise MonitorError(409, f"agent {agent_id} is not on a call")
        iid = calls[0]
        for node in self.nodes:
            leg = node.registry.by_iid.get(iid)
            if leg is not None and leg.agent_leg is not None:
                return iid, node, str(leg.agent_leg.channel_id)
        raise MonitorError(409, f"the call of agent {agent_id} is not on a known Asterisk channel")

    async def start(self, agent_id: str, user: str, mode: MonitorMode) -> Monitor:
        phone = self.service.config.console.phones.get(user)
        if not phone:
            raise MonitorError(409, f"no phone is configured for {user} (console.phones)")
        current = self.active.get(agent_id)
        if current is not None:
            if current.user != user:
                raise MonitorError(
                    409, f"{current.user} is already {current.mode.value}ing to agent {agent_id}"
                )
            return await self.switch(agent_id, mode)
        iid, node, agent_leg = self._call_of(agent_id)
        # ChanSpy matches a channel's name (not its Uniqueid): ask Asterisk for it.
        reply = await _send(node, {"Action": "Getvar", "Channel": agent_leg, "Variable": "CHANNEL(name)"})
        target = reply.get("Value", "") if _ok(reply) else ""
        if not target:
            raise MonitorError(409, f"the call of agent {agent_id} has ended")
        spy_id = f"ccr-spy-{secrets.token_hex(6)}"
        ring_ms = int(self.service.config.console.ring_timeout_s * 1000)
        originate: dict[str, str | list[str]] = {
            "Action": "Originate",
            "Channel": phone,
            "Context": SPY_CONTEXT,
            "Exten": "spy",
            "Priority": "1",
            "Timeout": str(ring_ms),
            "Async": "true",
            "ChannelId": spy_id,
            "CallerID": f'"{mode.value} {agent_id}" <{agent_id}>',
            "Variable": [
                f"CCR_SPY_TARGET={target}",
                f"CCR_SPY_MODE={mode.value}",
                f"CCR_SPY_AGENT={agent_id}",
            ],
        }
        reply = await _send(node, originate)
        if not _ok(reply):
            raise MonitorError(502, f"Asterisk refused to ring {phone}: {reply.get('Message', '')}")
        m = Monitor(agent_id, user, mode, phone, spy_id, iid, self.clock(), node)
        self.active[agent_id] = m
        log.info("monitor_started", agent_id=agent_id, user=user, mode=mode.value, interaction_id=iid)
        return m

    async def switch(self, agent_id: str, mode: MonitorMode) -> Monitor:
        m = self.active.get(agent_id)
        if m is None:
            raise MonitorError(404, f"nobody is listening to agent {agent_id}")
        if m.mode is mode:
            return m
        set_mode: dict[str, str | list[str]] = {
            "Action": "Setvar",
            "Channel": m.spy_id,
            "Variable": "CCR_SPY_MODE",
            "Value": mode.value,
        }
        redirect: dict[str, str | list[str]] = {
            "Action": "Redirect",
            "Channel": m.spy_id,
            "Context": SPY_CONTEXT,
            "Exten": "spy",
            "Priority": "1",
        }
        for action in (set_mode, redirect):
            reply = await _send(m.node, action)
            if not _ok(reply):
                raise MonitorError(
                    409, f"cannot switch: {reply.get('Message', 'the supervisor leg is gone')}"
                )
        m.mode = mode
        log.info("monitor_switched", agent_id=agent_id, user=m.user, mode=mode.value)
        return m

    async def stop(self, agent_id: str) -> Monitor:
        m = self.active.pop(agent_id, None)
        if m is None:
            raise MonitorError(404, f"nobody is listening to agent {agent_id}")
        await _send(m.node, {"Action": "Hangup", "Channel": m.spy_id})  # gone already: as good
        log.info("monitor_stopped", agent_id=agent_id, user=m.user)
        return m

    async def run(self) -> None:
        while True:
            await asyncio.sleep(POLL_S)
            for agent_id, m in list(self.active.items()):
                # A node that is down has lost its channels too: an Error reply either way.
                state: dict[str, str | list[str]] = {
                    "Action": "Getvar",
                    "Channel": m.spy_id,
                    "Variable": "CHANNEL(state)",
                }
                reply = await _send(m.node, state)
                if _ok(reply) and reply.get("Value"):
                    continue
                if self.active.get(agent_id) is m:
                    del self.active[agent_id]
                    log.info("monitor_ended", agent_id=agent_id, user=m.user)
                    for hook in self.on_end:
                        await hook(m, "hung up")
