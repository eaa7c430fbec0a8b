"""Rebuild after every (re)connect: what Asterisk has now vs. what the node believed.

Events that happened while the connection was down are lost, so the channel list
(CoreShowChannels) and device states (DeviceStateList) decide:

- callers the node knew that are gone: abandoned (waiting) or ended (connected);
- connected callers whose bridge is gone: ended (and hung up, not left in silence);
- agent legs of pending offers: still there = the Originate was carried out (keep it,
  or accept the offer if the leg is already bridged to the caller); gone without an
  answer = OfferDeclined(failed);
- callers on hold in ccr-inbound the node never heard of (arrived while it was down, or
  the router process started again): InteractionArrived with the dialled number, priority
  and original arrival read from the channel (CCR_NUMBER, CCR_PRIORITY, CCR_ARRIVED), so
  they keep their place and their wait;
- among those, callers an agent leg of an earlier router process rings or is bridged to
  (found by the leg's CCR_CALLER, CCR_IID, CCR_AGENT, CCR_OFFER): InteractionAdopted, a
  pending offer or a connected call, never queued or offered again;
- device states of SIP agents; agents blocked during the outage are released.

Events that arrive while the snapshot is being read are handled as usual; a channel
whose Hangup came in meanwhile is not revived by the (older) list.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

import structlog

from cc_router.adapters.ami import actions as act
from cc_router.adapters.ami.effects import Send
from cc_router.adapters.ami.events_in import DEVICE_BUSY
from cc_router.adapters.ami.protocol import Message
from cc_router.adapters.ami.reads import Checker
from cc_router.adapters.ami.registry import PENDING, Arrival, CallerStage, LegState
from cc_router.core.vocabulary import DeclineReason

log = structlog.get_logger("cc_router.ami.snapshot")

READS_AT_ONCE = 256
"""Held callers whose variables are being read at any moment (thousands after a restart;
four or five Getvars each, pipelined on the one connection)."""


async def _read_all(checker: Checker, channels: Sequence[Message]) -> list[Arrival | None]:
    # A window that slides rather than chunks that wait for their slowest: Asterisk always
    # has the next reads queued, and the replies are handled while it works on them.
    window = asyncio.Semaphore(READS_AT_ONCE)

    async def read(ch: Message) -> Arrival | None:
        async with window:
            return await checker.held_caller(ch)

    return list(await asyncio.gather(*(read(ch) for ch in channels)))


async def rebuild(checker: Checker) -> dict[str, int]:
    registry, ami_in, apply = checker.registry, checker.ami_in, checker.apply
    channels = await checker.asterisk.channels()
    by_uid = {m.get("Uniqueid", ""): m for m in channels}
    stats = {
        "channels": len(channels), "abandoned": 0, "ended": 0, "declined": 0, "accepted": 0,
        "found": 0, "adopted": 0,
    }  # fmt: skip

    def present(uid: str) -> Message | None:
        return None if registry.hung_up_recently(uid) else by_uid.get(uid)

    for caller in list(registry.callers.values()):
        ch = present(caller.uniqueid)
        if ch is None:
            if caller.stage is CallerStage.WAITING:
                stats["abandoned"] += 1
            elif caller.stage is CallerStage.CONNECTED:
                stats["ended"] += 1
            apply(ami_in.caller_vanished(caller))
        elif caller.stage is CallerStage.CONNECTED and not ch.get("BridgeId"):
            stats["ended"] += 1
            apply(ami_in.bridge_vanished(caller))

    for leg in list(registry.legs.values()):
        leg.alive = {u for u in (leg.channel_id, leg.other_id) if present(u) is not None}
        if leg.state in PENDING:
            if not leg.alive:
                stats["declined"] += 1
                apply(
                    ami_in.leg_failed(
                        leg, DeclineReason.FAILED, "agent leg gone after reconnect", time.time()
                    )
                )
                continue
            agent_ch = present(leg.channel_id)
            owner = registry.by_iid.get(leg.iid)
            caller_ch = present(owner.uniqueid) if owner is not None else None
            bridge = agent_ch.get("BridgeId", "") if agent_ch is not None else ""
            if owner is not None and caller_ch is not None and bridge and caller_ch.get("BridgeId") == bridge:
                stats["accepted"] += 1
                apply(ami_in.leg_answered(leg, owner))
            else:
                leg.state = LegState.QUEUED  # executed and still ringing: its events will follow
        elif leg.state is LegState.CANCELLED:
            if present(leg.channel_id) is not None:
                apply((Send(act.hangup(leg.channel_id)),))
            elif not leg.alive:
                registry.forget_leg(leg)
        elif not leg.alive:
            owner = registry.by_iid.get(leg.iid)
            if leg.state is LegState.ANSWERED and owner is not None and owner.stage is CallerStage.CONNECTED:
                apply(ami_in.bridge_vanished(owner))
            registry.forget_leg(leg)

    unknown = checker.held_unknown(channels)
    legs = await checker.foreign_legs(channels) if unknown else {}
    arrivals = [a for a in await _read_all(checker, unknown) if a is not None]
    # Admitted in the order they arrived: ties in the core break by admission.
    arrivals.sort(key=lambda a: a.arrived if a.arrived is not None else float("inf"))
    for arrival in arrivals:
        if registry.knows(arrival.uid):
            continue  # its CCREnqueue or Hangup came while the list was read
        adopted = legs.get(arrival.uid)
        stats["adopted" if adopted is not None else "found"] += 1
        apply(ami_in.admit(arrival, adopted))

    busy: set[str] = set()
    if registry.has_sip_agents():
        for item in await checker.asterisk.device_states():
            aid = registry.agent_of_device(item.get("Device", ""))
            if aid is not None and item.get("State", "") in DEVICE_BUSY and not registry.has_router_call(aid):
                busy.add(aid)
        apply(ami_in.sync_devices(busy))
    apply(ami_in.unblock_agents(busy))
    log.info("ami_snapshot", node=ami_in.node, **stats)
    return stats
