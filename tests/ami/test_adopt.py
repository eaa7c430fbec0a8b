"""The snapshot of a router that starts beside calls an earlier process put through:
waiting callers keep their arrival, ringing and bridged agent legs are adopted (read
from the legs' channel variables), nothing is offered or originated twice."""

from __future__ import annotations

import asyncio
import time

import pytest

from cc_router.adapters.ami.node import AmiNode
from cc_router.config import loads_config
from cc_router.core import commands as cmd
from cc_router.core import events as ev
from cc_router.core.vocabulary import AgentState, Outcome
from cc_router.service import Service
from tests.ami.fake_ami import FakeAmi
from tests.ami.test_connection import HOLD, _until

CONFIG = """
skills: [lang_zh]
agents:
  - {{id: "1001", skills: {{lang_zh: 5}}}}
  - {{id: "1002", skills: {{lang_zh: 5}}}}
queues:
  - {{name: support, requirement: lang_zh, ring_timeout_s: 20, wrapup_s: 0}}
numbers:
  "10086": {{queue: support}}
asterisk:
  - {{name: ast1, port: {port}, secret: s3cret, ping_interval_s: 0.2, ping_timeout_s: 0.3}}
"""


async def _node(fake: FakeAmi) -> tuple[Service, AmiNode, list[ev.Event], asyncio.Task[None]]:
    """A node started as after a restart: the agents' sessions restored, then the snapshot."""
    config = loads_config(CONFIG.format(port=fake.port))
    service = Service.from_config(config)
    for aid in ("1001", "1002"):
        service.submit(ev.AgentSessionRestored(aid, False, time.time() - 600))
    node = AmiNode(service, config.asterisk[0])
    node.attach()
    events: list[ev.Event] = []
    service.listeners.append(lambda e, now: events.append(e))
    task = asyncio.create_task(node.run())
    await _until(lambda: node.ready)
    return service, node, events, task


def _caller(n: int, bridge: str = "") -> dict[str, str]:
    return {
        **HOLD,
        "Channel": f"PJSIP/trunk-0000000{n}",
        "Uniqueid": f"1700000000.{n}",
        "Application": "BridgeWait",
        "CallerIDNum": f"1380000000{n}",
        "BridgeId": bridge or f"hold-{n}",
    }


def _leg(token: str, n: int, bridge: str = "") -> dict[str, str]:
    return {
        "Channel": f"Local/1001@ccr-sim-agent-0000000{n};1",
        "Uniqueid": f"ccr-{token}-{n}",
        "Context": "ccr-agent",
        "Application": "Bridge" if bridge else "AppDial2",
        "BridgeId": bridge,
    }


@pytest.mark.asyncio
async def test_snapshot_adopts_bridged_and_ringing_legs_and_keeps_arrivals() -> None:
    fake = FakeAmi()
    now = time.time()
    waiting, bridged, ringing = _caller(1), _caller(2, "b-42"), _caller(3)
    leg_bridged, leg_ringing = _leg("0a0b0c", 7, "b-42"), _leg("0a0b0c", 8)
    leg_bridged["Channel"] = "Local/1001@ccr-sim-agent-00000007;1"
    leg_ringing["Channel"] = "Local/1002@ccr-sim-agent-00000008;1"
    fake.channels += [ringing, leg_bridged, waiting, bridged, leg_ringing]
    base = {"CCR_NUMBER": "10086", "CCR_LANG": "zh", "CCR_PRIORITY": "0"}
    for ch, arrived in ((waiting, now - 30.5), (bridged, now - 90.25), (ringing, now - 60.125)):
        fake.channel_variables[ch["Channel"]] = {**base, "CCR_ARRIVED": f"{arrived:.3f}"}
    fake.channel_variables[leg_bridged["Channel"]] = {
        "CCR_CALLER": bridged["Uniqueid"], "CCR_IID": bridged["Uniqueid"], "CCR_AGENT": "1001",
        "CCR_OFFER": "o12", "CCR_ANSWERED": f"{now - 45:.3f}",
    }  # fmt: skip
    fake.channel_variables[leg_ringing["Channel"]] = {
        "CCR_CALLER": ringing["Uniqueid"], "CCR_IID": ringing["Uniqueid"], "CCR_AGENT": "1002",
        "CCR_OFFER": "o13",
    }  # fmt: skip
    await fake.start()
    service, _, events, task = await _node(fake)
    try:
        router = service.router
        arrived = [e for e in events if isinstance(e, ev.InteractionArrived)]
        assert [(a.interaction_id, a.since) for a in arrived] == [
            (waiting["Uniqueid"], pytest.approx(now - 30.5, abs=1e-3))
        ]
        adopted = {e.interaction_id: e for e in events if isinstance(e, ev.InteractionAdopted)}
        connected, pending = adopted[bridged["Uniqueid"]], adopted[ringing["Uniqueid"]]
        assert (connected.agent_id, connected.offer_id) == ("1001", "o12")
        assert connected.answered_at == pytest.approx(now - 45, abs=1e-3)
        assert connected.arrived_at == pytest.approx(now - 90.25, abs=1e-3)
        assert (pending.agent_id, pending.offer_id, pending.answered_at) == ("1002", "o13", None)
        assert router.agents["1001"].state is AgentState.BUSY
        assert router.agents["1002"].state is AgentState.RESERVED
        # Oldest first: the bridged caller, then the ringing one, then the waiting one.
        admitted = (ev.InteractionArrived, ev.InteractionAdopted)
        order = [e.interaction_id for e in events if isinstance(e, admitted)]
        assert order == [bridged["Uniqueid"], ringing["Uniqueid"], waiting["Uniqueid"]]
        assert not fake.actions("Originate")

        # The ringing agent answers: the pending offer is accepted, no second leg.
        fake.emit(
            {"Event": "UserEvent", "UserEvent": "CCRAgentAnswered", "Uniqueid": leg_ringing["Uniqueid"],
             "IID": ringing["Uniqueid"], "Agent": "1002"}
        )  # fmt: skip
        await _until(lambda: ev.OfferAccepted(ringing["Uniqueid"], "1002") in events)
        # The bridged caller hangs up, then its agent's leg: one end, answered.
        finished: list[cmd.InteractionFinished] = []
        service.sinks.append(
            lambda cs, _now: finished.extend(c for c in cs if isinstance(c, cmd.InteractionFinished))
        )
        fake.emit({"Event": "Hangup", "Uniqueid": bridged["Uniqueid"], "Channel": bridged["Channel"]})
        fake.emit(
            {"Event": "BridgeLeave", "Uniqueid": leg_bridged["Uniqueid"], "BridgeTechnology": "simple_bridge"}
        )
        fake.emit({"Event": "Hangup", "Uniqueid": leg_bridged["Uniqueid"]})  # fmt: skip
        await _until(lambda: bool(finished))
        await asyncio.sleep(0.1)
        assert len(finished) == 1
        (fin,) = finished
        assert fin.outcome is Outcome.ANSWERED and fin.agent_id == "1001"
        assert fin.wait_s == pytest.approx(45.25, abs=0.01)
        # The freed agent is offered the caller who waited; the adopted ones are never offered.
        await _until(lambda: bool(fake.actions("Originate")))
        await asyncio.sleep(0.1)
        assert [m.get("Variable") for _, m in fake.actions("Originate")] == [
            f"CCR_CALLER={waiting['Uniqueid']}"
        ]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await fake.stop()


@pytest.mark.asyncio
async def test_adopted_ringing_leg_that_hangs_up_gives_the_caller_back() -> None:
    fake = FakeAmi()
    ringing, leg = _caller(3), _leg("0a0b0c", 8)
    fake.channels += [ringing, leg]
    fake.channel_variables[ringing["Channel"]] = {
        "CCR_NUMBER": "10086",
        "CCR_ARRIVED": f"{time.time() - 5:.3f}",
    }
    fake.channel_variables[leg["Channel"]] = {
        "CCR_CALLER": ringing["Uniqueid"], "CCR_IID": ringing["Uniqueid"],
        "CCR_AGENT": "1001", "CCR_OFFER": "o2",
    }  # fmt: skip
    await fake.start()
    service, node, events, task = await _node(fake)
    try:
        fake.emit({"Event": "Hangup", "Uniqueid": leg["Uniqueid"]})
        await _until(lambda: any(isinstance(e, ev.OfferDeclined) for e in events))
        it = service.router.interactions[ringing["Uniqueid"]]
        assert str(it.stage) in ("waiting", "offered")
        assert ringing["Uniqueid"] in node.registry.callers
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await fake.stop()
