"""Rebuild after every (re)connect: what Asterisk has now vs. what the node believed.

Events that happened while the connection was down are lost, so the channel list
(CoreShowChannels) and device states (DeviceStateList) decide:

- callers the node knew that are gone: abandoned (waiting) or ended (connected);
- connected callers whose bridge is gone: ended (and hung up, not left in silence);
- agent legs of pending offers: still there = the Originate was carried out (keep it,
  or accept the offer if the leg is already bridged to the caller); gone without an
  answer = OfferDeclined(failed);
- callers on hold in ccr-inbound the node never heard of (arrived while it was down):
  InteractionArrived, with the dialled number read by Getvar CCR_NUMBER;
- device states of SIP agents; agents blocked during the outage are released.

Events that arrive while the snapshot is being read are handled as usual; a channel
whose Hangup came in meanwhile is not revived by the (older) list.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import structlog

from cc_router.adapters.ami import actions as act
from cc_router.adapters.ami.connection import AmiError
from cc_router.adapters.ami.protocol import Message

if TYPE_CHECKING:
    from cc_router.adapters.ami.node import AmiNode

log = structlog.get_logger("cc_router.ami.snapshot")

SNAPSHOT_TIMEOUT_S = 15.0


async def _list(node: AmiNode, action: str) -> list[Message]:
    conn = node.conn
    if conn is None:
        raise AmiError(f"{action}: not connected")
    reply = await asyncio.wait_for(conn.send_action({"Action": action}), SNAPSHOT_TIMEOUT_S)
    if isinstance(reply, dict):
        raise AmiError(f"{action} refused: {reply.get('Message', '')}")
    return reply


async def _getvar(node: AmiNode, channel: str, name: str) -> str:
    conn = node.conn
    if conn is None:
        raise AmiError("Getvar: not connected")
    reply = await asyncio.wait_for(conn.send_action(act.getvar(channel, name)), SNAPSHOT_TIMEOUT_S)
    if isinstance(reply, dict) and reply.get("Response") == "Success":
        return reply.get("Value", "")
    return ""


async def rebuild(node: AmiNode) -> dict[str, int]:
    from cc_router.adapters.ami.node import DEVICE_BUSY, HOLD_APPLICATIONS

    channels = await _list(node, "CoreShowChannels")
    by_uid = {m.get("Uniqueid", ""): m for m in channels}
    stats = {"channels": len(channels), "abandoned": 0, "ended": 0, "declined": 0, "accepted": 0, "found": 0}

    def present(uid: str) -> Message | None:
        return None if node.hung_up_recently(uid) else by_uid.get(uid)

    for caller in list(node.callers.values()):
        ch = present(caller.uniqueid)
        if ch is None:
            if caller.stage == "waiting":
                stats["abandoned"] += 1
            elif caller.stage == "connected":
                stats["ended"] += 1
            node.caller_vanished(caller)
        elif caller.stage == "connected" and not ch.get("BridgeId"):
            stats["ended"] += 1
            node.bridge_vanished(caller)

    for leg in list(node.legs.values()):
        leg.alive = {u for u in (leg.channel_id, leg.other_id) if present(u) is not None}
        if leg.state in ("sending", "queued", "unknown"):
            if not leg.alive:
                stats["declined"] += 1
                node.leg_failed(leg, "failed", "agent leg gone after reconnect")
                continue
            agent_ch = present(leg.channel_id)
            owner = node.by_iid.get(leg.iid)
            caller_ch = present(owner.uniqueid) if owner is not None else None
            bridge = agent_ch.get("BridgeId", "") if agent_ch is not None else ""
            if owner is not None and caller_ch is not None and bridge and caller_ch.get("BridgeId") == bridge:
                stats["accepted"] += 1
                node.leg_answered(leg, owner)
            else:
                leg.state = "queued"  # executed and still ringing: its events will follow
        elif leg.state == "cancelled":
            if present(leg.channel_id) is not None:
                node.enqueue(act.hangup(leg.channel_id))
            elif not leg.alive:
                node.forget_leg(leg)
        elif not leg.alive:
            owner = node.by_iid.get(leg.iid)
            if leg.state == "answered" and owner is not None and owner.stage == "connected":
                node.bridge_vanished(owner)
            node.forget_leg(leg)

    for ch in channels:
        uid = ch.get("Uniqueid", "")
        if (
            ch.get("Context") != "ccr-inbound"
            or ch.get("Application") not in HOLD_APPLICATIONS
            or uid in node.callers
            or node.hung_up_recently(uid)
        ):
            continue
        channel = ch.get("Channel", "")
        number = await _getvar(node, channel, "CCR_NUMBER")
        lang = await _getvar(node, channel, "CCR_LANG")
        prio = await _getvar(node, channel, "CCR_PRIORITY")
        if uid in node.callers or node.hung_up_recently(uid):
            continue  # its CCREnqueue or Hangup came while we asked
        stats["found"] += 1
        node.admit_caller(
            uid=uid,
            channel=channel,
            number=number,
            caller_num=ch.get("CallerIDNum", ""),
            caller_name=ch.get("CallerIDName", "") if ch.get("CallerIDName") != "<unknown>" else "",
            lang=lang,
            caller_priority=prio,
        )

    busy: set[str] = set()
    if node.has_sip_agents():
        for item in await _list(node, "DeviceStateList"):
            aid = node.agent_of_device(item.get("Device", ""))
            if aid is not None and item.get("State", "") in DEVICE_BUSY and not node.has_router_call(aid):
                busy.add(aid)
        node.sync_devices(busy)
    node.unblock_agents(busy)
    log.info("ami_snapshot", node=node.node, **stats)
    return stats
