"""Drift detection: while connected, compare the router's view with Asterisk's channels.

Events can be lost without the connection dropping (an Asterisk bug, a stasis backlog, a
handler that failed), and then the router believes in callers that are gone, or never
hears of callers on hold. Every `drift_check_s` the node reads CoreShowChannels (and
DeviceStateList when it has SIP agents) and looks for:

| kind | what | correction |
|---|---|---|
| `caller_gone` | a waiting caller whose channel is gone | InteractionAbandoned |
| `connected_gone` | a connected interaction whose caller channel is gone | InteractionEnded |
| `caller_unknown` | a caller on hold in ccr-inbound the router never heard of | admitted |
| `leg_gone` | an offer whose agent leg was seen and is gone | declined (failed) / ended |
| `leg_orphan` | an agent leg of this node with no offer | Hangup |
| `router_only` | a voice interaction of this node the adapter does not track | logged only |
| `device_state` | a SIP agent's device state differs | AgentDeviceChanged |

Routing is not paused: events keep flowing while the list is read. So a finding is only
a suspect until it survives a grace period (`drift_grace_s`, then a Ping as a barrier for
events Asterisk queued before it): only things the node knew *before* it asked can be
"gone", and an event that explains the difference (the Hangup, the CCREnqueue) clears
the suspect. Each confirmed item is one `ami_drift` warning and one count in `node.drift`
(Prometheus `cc_router_ami_drift_total{node,kind}`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import structlog

from cc_router.adapters.ami import actions as act
from cc_router.adapters.ami.connection import AmiError
from cc_router.adapters.ami.node import HOLD_APPLICATIONS
from cc_router.adapters.ami.snapshot import SNAPSHOT_TIMEOUT_S, _getvar, _list
from cc_router.core.records import Stage
from cc_router.core.spec import Channel

if TYPE_CHECKING:
    from cc_router.adapters.ami.node import AmiNode

log = structlog.get_logger("cc_router.ami.drift")

DRIFT_KINDS = (
    "caller_gone",
    "connected_gone",
    "caller_unknown",
    "leg_gone",
    "leg_orphan",
    "router_only",
    "device_state",
)


def _report(node: AmiNode, kind: str, corrected: str, **fields: object) -> None:
    node.drift[kind] += 1
    log.warning("ami_drift", node=node.node, kind=kind, corrected=corrected, **fields)


async def _barrier(node: AmiNode) -> None:
    """Events Asterisk queued for this session before the Ping are delivered before its reply."""
    conn = node.conn
    if conn is None:
        raise AmiError("drift check: not connected")
    await asyncio.wait_for(conn.send_action({"Action": "Ping"}), SNAPSHOT_TIMEOUT_S)


async def check_drift(node: AmiNode) -> dict[str, int]:
    """One comparison; returns the confirmed items by kind (also added to `node.drift`)."""
    asked = time.monotonic()
    # What the node knew before asking: only these can be missing from the answer.
    callers_before = {c.uniqueid: c for c in node.callers.values() if c.stage != "done"}
    legs_before = {leg.offer_id: (leg, set(leg.alive)) for leg in node.legs.values() if leg.alive}
    channels = await _list(node, "CoreShowChannels")
    by_uid = {m.get("Uniqueid", ""): m for m in channels}
    # (agent, busy in Asterisk, device events seen for it when asked)
    devices: list[tuple[str, bool, int]] = []
    if node.has_sip_agents():
        seq_before = dict(node.device_events)
        for item in await _list(node, "DeviceStateList"):
            aid = node.agent_of_device(item.get("Device", ""))
            busy = node.device_busy_of(item.get("State", ""))
            if aid is not None and busy is not None and node.device_busy(aid) != busy:
                devices.append((aid, busy, seq_before.get(aid, 0)))

    gone_callers = [c for uid, c in callers_before.items() if uid not in by_uid]
    gone_legs = [(leg, uids) for leg, uids in legs_before.values() if not any(u in by_uid for u in uids)]
    own_prefix = f"ccr-{node.run_token}-"
    orphans = [m for uid, m in by_uid.items() if uid.startswith(own_prefix) and uid not in node.leg_by_uid]
    unknown = [
        m
        for uid, m in by_uid.items()
        if m.get("Context") == "ccr-inbound"
        and m.get("Application") in HOLD_APPLICATIONS
        and uid not in node.callers
    ]
    if not (gone_callers or gone_legs or orphans or unknown or devices):
        node.drift_checks += 1
        return _router_only(node, {})

    await asyncio.sleep(node.drift_grace_s)
    await _barrier(node)
    found: dict[str, int] = {}

    def count(kind: str) -> None:
        found[kind] = found.get(kind, 0) + 1

    for caller in gone_callers:
        if node.callers.get(caller.uniqueid) is not caller or caller.stage == "done":
            continue  # its Hangup came meanwhile
        if node.hung_up_recently(caller.uniqueid):
            continue
        kind = "connected_gone" if caller.stage == "connected" else "caller_gone"
        count(kind)
        _report(
            node, kind, "ended" if caller.stage == "connected" else "abandoned",
            iid=caller.iid, uniqueid=caller.uniqueid, channel=caller.channel,
        )  # fmt: skip
        node.caller_vanished(caller)

    for leg, uids in gone_legs:
        if node.legs.get(leg.offer_id) is not leg or not uids <= leg.alive:
            continue  # a Hangup of the leg came meanwhile
        if any(node.hung_up_recently(u) for u in uids):
            continue
        count("leg_gone")
        _report(
            node, "leg_gone", "declined" if leg.state != "answered" else "ended",
            iid=leg.iid, agent_id=leg.agent_id, uniqueid=leg.channel_id, state=leg.state,
        )  # fmt: skip
        node.leg_vanished(leg)

    for ch in orphans:
        uid = ch.get("Uniqueid", "")
        if uid in node.leg_by_uid or node.hung_up_recently(uid):
            continue
        count("leg_orphan")
        _report(node, "leg_orphan", "hangup", uniqueid=uid, channel=ch.get("Channel", ""))
        node.enqueue(act.hangup(uid))

    for ch in unknown:
        uid = ch.get("Uniqueid", "")
        if uid in node.callers or node.hung_up_recently(uid):
            continue  # its CCREnqueue or Hangup came meanwhile
        channel = ch.get("Channel", "")
        number = await _getvar(node, channel, "CCR_NUMBER")
        if number not in node.service.config.numbers and not node.exit_unknown_numbers:
            continue  # another router's caller (several routers share one Asterisk in tests)
        lang = await _getvar(node, channel, "CCR_LANG")
        prio = await _getvar(node, channel, "CCR_PRIORITY")
        if uid in node.callers or node.hung_up_recently(uid):
            continue
        count("caller_unknown")
        _report(node, "caller_unknown", "admitted", uniqueid=uid, channel=channel, number=number)
        node.admit_caller(
            uid=uid,
            channel=channel,
            number=number,
            caller_num=ch.get("CallerIDNum", ""),
            caller_name=ch.get("CallerIDName", "") if ch.get("CallerIDName") != "<unknown>" else "",
            lang=lang,
            caller_priority=prio,
        )

    for aid, busy, seq in devices:
        if node.device_events.get(aid, 0) != seq or node.device_busy(aid) == busy:
            continue  # a DeviceStateChange came meanwhile: newer than the list
        if node.set_device_checked(aid, busy):
            count("device_state")
            _report(node, "device_state", "device_changed", agent_id=aid, busy=busy)

    node.drift_checks += 1
    found = _router_only(node, found)
    if found:
        log.info("ami_drift_check", node=node.node, took_s=round(time.monotonic() - asked, 3), **found)
    return found


def _router_only(node: AmiNode, found: dict[str, int]) -> dict[str, int]:
    """Voice interactions of this node in the router that the adapter does not track: no
    safe correction (the adapter cannot tell which channel they were), so logged only.
    Checked against the node's previous findings so each is reported once."""
    router = node.service.router
    node.reported_router_only &= router.interactions.keys()
    mine: Callable[[str], bool] = (
        (lambda iid: iid.startswith(node.prefix)) if node.prefix else (lambda iid: True)
    )
    for iid, rec in router.interactions.items():
        if (
            rec.stage is Stage.DONE
            or rec.queue.spec.channel is not Channel.VOICE
            or iid in node.by_iid
            or iid in node.reported_router_only
            or not mine(iid)
            # Arrivals from this adapter carry the dialled number; others (tests, tasks
            # submitted over HTTP) are not its business.
            or "number" not in rec.attributes
            or "caller_num" not in rec.attributes
        ):
            continue
        node.reported_router_only.add(iid)
        found["router_only"] = found.get("router_only", 0) + 1
        _report(node, "router_only", "none", iid=iid, stage=str(rec.stage))
    return found


async def drift_loop(node: AmiNode) -> None:
    """Run `check_drift` every `node.drift_check_s` while the node is ready (0: never)."""
    last = time.monotonic()
    while True:
        # Short naps: a changed interval (or 0 = off) takes effect within a second.
        interval = node.drift_check_s
        await asyncio.sleep(min(1.0, interval) if interval > 0 else 1.0)
        if interval <= 0 or not node.ready or time.monotonic() - last < interval:
            continue
        last = time.monotonic()
        try:
            await check_drift(node)
        except (AmiError, TimeoutError) as exc:
            # The connection's own liveness checks decide about the connection.
            log.warning("ami_drift_check_failed", node=node.node, error=f"{type(exc).__name__}: {exc}")


__all__ = ["DRIFT_KINDS", "check_drift", "drift_loop"]
