"""Drift detection: while connected, compare the router's view with Asterisk's channels.

Events can be lost without the connection dropping (an Asterisk bug, a stasis backlog, a
handler that failed), and then the router believes in callers that are gone, or never
hears of callers on hold. Every `interval_s` (config: `drift_check_s`) the node reads
CoreShowChannels (and DeviceStateList when it has SIP agents) and looks for:

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
a suspect until it survives a grace period (`grace_s`, then a Ping as a barrier for
events Asterisk queued before it): only things the node knew *before* it asked can be
"gone", and an event that explains the difference (the Hangup, the CCREnqueue) clears
the suspect. Each confirmed item is one `ami_drift` warning and one count in `DriftCheck.found`
(Prometheus `cc_router_ami_drift_total{node,kind}`).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable

import structlog

from cc_router.adapters.ami import actions as act
from cc_router.adapters.ami.connection import AmiError
from cc_router.adapters.ami.effects import Send
from cc_router.adapters.ami.events_in import device_busy_of
from cc_router.adapters.ami.reads import Checker
from cc_router.adapters.ami.registry import CallerStage, LegState
from cc_router.core.spec import Channel
from cc_router.core.vocabulary import Stage

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


class DriftCheck:
    """The periodic comparison for one node, and what it found since start."""

    def __init__(self, checker: Checker, *, interval_s: float) -> None:
        self.checker = checker
        self.interval_s = interval_s
        """Seconds between checks (0: never); re-read every second, so it can be changed."""
        self.grace_s = 2.0
        """A suspect must survive this long (then a Ping barrier) to count."""
        self.found: Counter[str] = Counter()
        """Drift items confirmed since start, by kind; read by /metrics."""
        self.checks = 0
        self.reported_router_only: set[str] = set()

    def _report(self, kind: str, corrected: str, **fields: object) -> None:
        self.found[kind] += 1
        log.warning("ami_drift", node=self.checker.ami_in.node, kind=kind, corrected=corrected, **fields)

    async def check(self) -> dict[str, int]:
        """One comparison; returns the confirmed items by kind (also added to `found`)."""
        checker = self.checker
        registry, ami_in, asterisk, apply = checker.registry, checker.ami_in, checker.asterisk, checker.apply
        asked = time.monotonic()
        # What the node knew before asking: only these can be missing from the answer.
        callers_before = {c.uniqueid: c for c in registry.callers.values() if c.stage is not CallerStage.DONE}
        legs_before = {leg.offer_id: (leg, set(leg.alive)) for leg in registry.legs.values() if leg.alive}
        channels = await asterisk.channels()
        by_uid = {m.get("Uniqueid", ""): m for m in channels}
        # (agent, busy in Asterisk, device events seen for it when asked)
        devices: list[tuple[str, bool, int]] = []
        if registry.has_sip_agents():
            seq_before = dict(registry.device_events)
            for item in await asterisk.device_states():
                aid = registry.agent_of_device(item.get("Device", ""))
                busy = device_busy_of(item.get("State", ""))
                if aid is not None and busy is not None and registry.device_busy.get(aid, False) != busy:
                    devices.append((aid, busy, seq_before.get(aid, 0)))

        gone_callers = [c for uid, c in callers_before.items() if uid not in by_uid]
        gone_legs = [(leg, uids) for leg, uids in legs_before.values() if not any(u in by_uid for u in uids)]
        orphans = [
            m for uid, m in by_uid.items() if registry.is_own_leg(uid) and uid not in registry.leg_by_uid
        ]
        unknown = checker.held_unknown(channels)
        if not (gone_callers or gone_legs or orphans or unknown or devices):
            self.checks += 1
            return self._router_only({})

        await asyncio.sleep(self.grace_s)
        await asterisk.barrier()
        found: dict[str, int] = {}

        def count(kind: str) -> None:
            found[kind] = found.get(kind, 0) + 1

        for caller in gone_callers:
            if registry.callers.get(caller.uniqueid) is not caller or caller.stage is CallerStage.DONE:
                continue  # its Hangup came meanwhile
            if registry.hung_up_recently(caller.uniqueid):
                continue
            connected = caller.stage is CallerStage.CONNECTED
            kind = "connected_gone" if connected else "caller_gone"
            count(kind)
            self._report(
                kind, "ended" if connected else "abandoned",
                iid=caller.iid, uniqueid=caller.uniqueid, channel=caller.channel,
            )  # fmt: skip
            apply(ami_in.caller_vanished(caller))

        for leg, uids in gone_legs:
            if registry.legs.get(leg.offer_id) is not leg or not uids <= leg.alive:
                continue  # a Hangup of the leg came meanwhile
            if any(registry.hung_up_recently(u) for u in uids):
                continue
            count("leg_gone")
            self._report(
                "leg_gone", "declined" if leg.state is not LegState.ANSWERED else "ended",
                iid=leg.iid, agent_id=leg.agent_id, uniqueid=leg.channel_id, state=str(leg.state),
            )  # fmt: skip
            apply(ami_in.leg_vanished(leg, time.time()))

        for ch in orphans:
            uid = ch.get("Uniqueid", "")
            if uid in registry.leg_by_uid or registry.hung_up_recently(uid):
                continue
            count("leg_orphan")
            self._report("leg_orphan", "hangup", uniqueid=uid, channel=ch.get("Channel", ""))
            apply((Send(act.hangup(uid)),))

        def wanted(number: str) -> bool:
            # Another router's caller (several routers share one Asterisk in tests) is left alone.
            return number in ami_in.setup.config.numbers or ami_in.exit_unknown_numbers

        for ch in unknown:
            arrival = await checker.held_caller(ch, wanted)
            if arrival is None:
                continue
            count("caller_unknown")
            self._report(
                "caller_unknown",
                "admitted",
                uniqueid=arrival.uid,
                channel=arrival.channel,
                number=arrival.number,
            )
            apply(ami_in.admit(arrival))

        for aid, busy, seq in devices:
            if registry.device_events.get(aid, 0) != seq or registry.device_busy.get(aid, False) == busy:
                continue  # a DeviceStateChange came meanwhile: newer than the list
            effects = ami_in.set_device_checked(aid, busy)
            if effects is not None:
                apply(effects)
                count("device_state")
                self._report("device_state", "device_changed", agent_id=aid, busy=busy)

        self.checks += 1
        found = self._router_only(found)
        if found:
            log.info("ami_drift_check", node=ami_in.node, took_s=round(time.monotonic() - asked, 3), **found)
        return found

    def _router_only(self, found: dict[str, int]) -> dict[str, int]:
        """Voice interactions of this node in the router that the adapter does not track: no
        safe correction (the adapter cannot tell which channel they were), so logged only.
        Checked against the previous findings so each is reported once."""
        ami_in = self.checker.ami_in
        router = ami_in.setup.router
        by_iid = self.checker.registry.by_iid
        prefix = ami_in.prefix
        self.reported_router_only &= router.interactions.keys()
        mine: Callable[[str], bool] = (lambda iid: iid.startswith(prefix)) if prefix else (lambda iid: True)
        for iid, rec in router.interactions.items():
            if (
                rec.stage is Stage.DONE
                or rec.callback_attempts is not None  # a callback: its caller has hung up
                or rec.queue.spec.channel is not Channel.VOICE
                or iid in by_iid
                or iid in self.reported_router_only
                or not mine(iid)
                # Arrivals from this adapter carry the dialled number; others (tests, tasks
                # submitted over HTTP) are not its business.
                or "number" not in rec.attributes
                or "caller_num" not in rec.attributes
            ):
                continue
            self.reported_router_only.add(iid)
            found["router_only"] = found.get("router_only", 0) + 1
            self._report("router_only", "none", iid=iid, stage=str(rec.stage))
        return found

    async def loop(self, is_ready: Callable[[], bool]) -> None:
        """`check` every `interval_s` while `is_ready()` (0: never)."""
        last = time.monotonic()
        while True:
            # Short naps: a changed interval (or 0 = off) takes effect within a second.
            interval = self.interval_s
            await asyncio.sleep(min(1.0, interval) if interval > 0 else 1.0)
            if interval <= 0 or not is_ready() or time.monotonic() - last < interval:
                continue
            last = time.monotonic()
            try:
                await self.check()
            except (AmiError, TimeoutError) as exc:
                # The connection's own liveness checks decide about the connection.
                log.warning(
                    "ami_drift_check_failed",
                    node=self.checker.ami_in.node,
                    error=f"{type(exc).__name__}: {exc}",
                )


__all__ = ["DRIFT_KINDS", "DriftCheck"]
