"""How the snapshot and drift checks read Asterisk: channel and device lists, channel
variables, a Ping as a barrier, the caller on hold found in a channel list (the one rule
for admitting a held caller: its number, language, priority and arrival read from its
channel), and the agent legs an earlier router process placed.

`Checker` is what both work with: the registry to compare, the translator that turns a
difference into core events, these reads, and the node's `apply` for the effects.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from cc_router.adapters.ami import actions as act
from cc_router.adapters.ami.connection import AmiError, Reply
from cc_router.adapters.ami.effects import Effects
from cc_router.adapters.ami.events_in import AmiToCore, arrival_stamp
from cc_router.adapters.ami.protocol import Message
from cc_router.adapters.ami.registry import AdoptedLeg, Arrival, Registry

READ_TIMEOUT_S = 15.0
HOLD_APPLICATIONS = frozenset({"BridgeWait", "MusicOnHold"})
"""Application of a caller on hold in ccr-inbound (MusicOnHold: dialplans before BridgeWait)."""
UNKNOWN_NAME = "<unknown>"
"""How Asterisk lists a channel without a caller name."""
LEG_ID = re.compile(re.escape(act.LEG_ID_PREFIX) + r"[0-9a-f]+-[0-9]+")
"""Uniqueid of an agent leg some router run originated (`Registry.next_leg_id`; its
second Local half ends in `-2`)."""
CONNECTED_MARK = "SHARED(CCR_CONNECTED)"
"""Set on a caller by ccr-agent when an agent leg bridges it."""
LEG_VARIABLES = ("CCR_CALLER", "CCR_IID", "CCR_AGENT", "CCR_OFFER", "CCR_ANSWERED")
HELD_VARIABLES = (
    "CCR_NUMBER", "CCR_LANG", "CCR_PRIORITY", "CCR_ARRIVED", CONNECTED_MARK, act.HELD_MARK, act.HOLD_TIME,
)  # fmt: skip
SEPARATOR = "\x1f"
"""Between the values of one `getvars` (ASCII unit separator: no number, language,
priority, time or id the dialplan stamps contains it)."""

SendAction = Callable[[Mapping[str, str | Sequence[str]]], Awaitable[Reply]]


class AsteriskReads:
    """Actions with awaited replies, each bounded by `READ_TIMEOUT_S`; AmiError when refused
    or not connected."""

    def __init__(self, send_action: SendAction) -> None:
        self._send = send_action

    async def _list(self, action: str) -> list[Message]:
        reply = await asyncio.wait_for(self._send({"Action": action}), READ_TIMEOUT_S)
        if isinstance(reply, dict):
            raise AmiError(f"{action} refused: {reply.get('Message', '')}")
        return reply

    async def channels(self) -> list[Message]:
        return await self._list("CoreShowChannels")

    async def device_states(self) -> list[Message]:
        return await self._list("DeviceStateList")

    async def getvar(self, channel: str, name: str) -> str:
        """The variable's value; empty if unset or the channel is gone."""
        reply = await asyncio.wait_for(self._send(act.getvar(channel, name)), READ_TIMEOUT_S)
        if isinstance(reply, dict) and reply.get("Response") == "Success":
            return reply.get("Value", "")
        return ""

    async def getvars(self, channel: str, names: Sequence[str]) -> list[str]:
        """Several variables of one channel in one round trip: Getvar of EVAL(), which
        substitutes them all on the channel at once (thousands of held callers after a
        restart would otherwise cost a Getvar per variable each). One Getvar per variable
        when a value holds the separator; all empty when the channel is gone."""
        expr = "EVAL(" + SEPARATOR.join(f"${{{n}}}" for n in names) + ")"
        values = (await self.getvar(channel, expr)).split(SEPARATOR)
        if len(values) == len(names):
            return values
        if values == [""]:
            return [""] * len(names)
        return list(await asyncio.gather(*(self.getvar(channel, n) for n in names)))

    async def barrier(self) -> None:
        """Events Asterisk queued for this session before the Ping are delivered before its reply."""
        await asyncio.wait_for(self._send({"Action": "Ping"}), READ_TIMEOUT_S)


def _seconds(value: str) -> float:
    try:
        return max(0.0, float(value))
    except ValueError:
        return 0.0


def held_in_inbound(channel: Message) -> bool:
    """A channel list entry of a caller on hold in ccr-inbound."""
    return channel.get("Context") == act.HOLD_CONTEXT and channel.get("Application") in HOLD_APPLICATIONS


@dataclass(slots=True, frozen=True)
class Checker:
    registry: Registry
    ami_in: AmiToCore
    asterisk: AsteriskReads
    apply: Callable[[Effects], None]

    def held_unknown(self, channels: Sequence[Message]) -> list[Message]:
        """Channels of callers on hold in ccr-inbound that the registry does not hold."""
        callers = self.registry.callers
        return [ch for ch in channels if held_in_inbound(ch) and ch.get("Uniqueid", "") not in callers]

    async def held_caller(
        self, ch: Message, wanted: Callable[[str], bool] = lambda number: True
    ) -> Arrival | None:
        """The arrival of a caller on hold found in a channel list, its dialled number,
        language, priority and arrival read from its channel; None when `wanted(number)`
        says no, the registry knows it, before asking or after (its CCREnqueue or Hangup
        came), or it is between its agent's bridge and its hang-up."""
        uid = ch.get("Uniqueid", "")
        if self.registry.knows(uid):
            return None
        channel = ch.get("Channel", "")
        values = await self.asterisk.getvars(channel, HELD_VARIABLES)
        number, lang, prio, arrived, connected, held, hold_s = values
        if not wanted(number) or self.registry.knows(uid):
            return None
        if not ch.get("BridgeId") and connected:
            return None  # out of its agent's bridge and about to hang up: not waiting
        name = ch.get("CallerIDName", "")
        return Arrival(
            uid=uid,
            channel=channel,
            number=number,
            caller_num=ch.get("CallerIDNum", ""),
            caller_name="" if name == UNKNOWN_NAME else name,
            lang=lang,
            caller_priority=prio,
            arrived=arrival_stamp(arrived),
            held_since=arrival_stamp(held),
            hold_s=_seconds(hold_s),
        )

    async def foreign_legs(self, channels: Sequence[Message]) -> dict[str, AdoptedLeg]:
        """Agent legs in the list that this node did not place (an earlier process did),
        by the Uniqueid of the caller they are for; legs without the router's variables
        are left out. Bridged: in the same bridge as that caller."""
        by_uid = {ch.get("Uniqueid", ""): ch for ch in channels}
        legs = [
            ch for uid, ch in by_uid.items() if LEG_ID.fullmatch(uid) and uid not in self.registry.leg_by_uid
        ]
        found: dict[str, AdoptedLeg] = {}
        for ch in legs:
            channel = ch.get("Channel", "")
            caller, iid, agent, offer, answered = await self.asterisk.getvars(channel, LEG_VARIABLES)
            if not (caller and iid and agent and offer):
                continue
            bridge = ch.get("BridgeId", "")
            caller_bridge = by_uid.get(caller, {}).get("BridgeId", "")
            answered_at = arrival_stamp(answered)
            # Read after the list: an answer stamp there means the agent answered since,
            # and its CCRAgentAnswered came before the node knew the leg.
            bridged = (bool(bridge) and bridge == caller_bridge) or answered_at is not None
            found[caller] = AdoptedLeg(ch.get("Uniqueid", ""), iid, agent, offer, bridged, answered_at)
        return found
