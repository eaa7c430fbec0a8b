"""A call connected across the trunk ends at once when the far node dies.

Caller on node 1, agent on node 2, connected. The router loses node 2 (NodeDown): node 1
qualifies its trunk to node 2 at once; unanswered (ContactStatus Unreachable), node 2 is
dead, and the call is recorded as the PBX's loss and hung up on node 1, not left in
silence until a SIP session refresh. Either signal alone leaves the call up."""

from __future__ import annotations

import asyncio

import pytest

from cc_router.adapters import ami
from cc_router.adapters.ami.fleet import NodeFleet
from cc_router.adapters.ami.node import AmiNode
from cc_router.config import loads_config
from cc_router.core import commands as cmd
from cc_router.core import events as ev
from cc_router.core.vocabulary import Outcome
from cc_router.service import Service
from cc_router.testing.live import wait_until
from tests.ami.fake_ami import FakeAmi

pytestmark = pytest.mark.asyncio

CONFIG = """
skills: [zh]
agents:
  - {{id: m21, pool: p2, skills: {{zh: 5}}}}
queues:
  - {{name: q, requirement: zh}}
numbers:
  "30086": {{queue: q}}
asterisk:
  - {{name: node1, port: {p1}, secret: s, ping_interval_s: 0.2, ping_timeout_s: 0.3, reconnect_max_s: 0.3}}
  - {{name: node2, port: {p2}, secret: s, ping_interval_s: 0.2, ping_timeout_s: 0.3, reconnect_max_s: 0.3}}
seat_pools:
  - {{name: p1, node: node1}}
  - {{name: p2, node: node2}}
trunks:
  - {{nodes: [node1, node2]}}
"""
CALLER = {"Channel": "PJSIP/trunk-00000009", "Uniqueid": "1700000000.9"}
IID = "node1.1700000000.9"


class TwoNodes:
    def __init__(self, f1: FakeAmi, f2: FakeAmi) -> None:
        config = loads_config(CONFIG.format(p1=f1.port, p2=f2.port))
        self.service = Service.from_config(config)
        self.n1, self.n2 = (n for n in ami.build(self.service) if isinstance(n, AmiNode))
        self.fleet = NodeFleet(self.service, [self.n1, self.n2])
        self.finished: list[cmd.InteractionFinished] = []
        self.service.sinks.append(
            lambda cs, now: self.finished.extend(c for c in cs if isinstance(c, cmd.InteractionFinished))
        )
        self.tasks = [asyncio.create_task(n.run()) for n in (self.n1, self.n2)]
        self.f1, self.f2 = f1, f2

    async def connected_across(self) -> None:
        await wait_until(lambda: self.n1.ready and self.n2.ready, 5)
        self.service.submit(ev.AgentLoggedIn("m21"))
        self.f1.emit(
            {"Event": "UserEvent", "UserEvent": "CCREnqueue", **CALLER, "Number": "30086", "CallerNum": "139"}
        )
        await wait_until(lambda: bool(self.f1.actions("Originate")), 5)
        [(_, originate)] = self.f1.actions("Originate")
        assert originate["Channel"] == "Local/agent@ccr-trunk-out/n"  # over the trunk
        self.leg = originate["ChannelId"]
        self.f1.emit({"Event": "UserEvent", "UserEvent": "CCRAgentAnswered", "Uniqueid": self.leg})
        await wait_until(lambda: self.service.router.interactions[IID].agent_id == "m21", 5)
        await asyncio.sleep(0.1)

    def trunk_unreachable(self) -> None:
        self.f1.emit(
            {
                "Event": "ContactStatus",
                "AOR": "ccr-trunk-node2",
                "ContactStatus": "Unreachable",
                "URI": "sip:x",
            }
        )

    def hung_up(self) -> set[str]:
        return {m.get("Channel", "") for _, m in self.f1.actions("Hangup")}

    async def stop(self) -> None:
        for t in self.tasks:
            t.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.f1.stop()
        await self.f2.stop()


async def fakes() -> tuple[FakeAmi, FakeAmi]:
    f1, f2 = FakeAmi(), FakeAmi()
    await f1.start()
    await f2.start()
    return f1, f2


async def test_node2_lost_then_its_trunk_silent_ends_the_call_on_node1_at_once() -> None:
    run = TwoNodes(*await fakes())
    try:
        await run.connected_across()
        await run.f2.stop()  # node 2 dies: the router's link goes first
        await wait_until(lambda: bool(run.f1.actions("PJSIPQualify")), 3)
        [(_, qualify)] = run.f1.actions("PJSIPQualify")
        assert qualify["Endpoint"] == "ccr-trunk-node2"
        assert run.finished == []  # not on the lost link alone
        run.trunk_unreachable()  # the qualify goes unanswered
        await wait_until(lambda: bool(run.finished), 2)
        [f] = run.finished
        assert (f.interaction_id, f.outcome, f.disposition) == (IID, Outcome.ANSWERED, Outcome.PBX_DROPPED)
        await wait_until(lambda: {run.leg, CALLER["Channel"]} <= run.hung_up(), 2)
    finally:
        await run.stop()


async def test_trunk_silent_first_then_node2_lost_ends_it_too_but_neither_alone() -> None:
    run = TwoNodes(*await fakes())
    try:
        await run.connected_across()
        run.trunk_unreachable()  # one qualify unanswered, node 2 still well
        await asyncio.sleep(0.5)
        assert run.finished == []
        assert run.hung_up() == set()
        await run.f2.stop()
        await wait_until(lambda: bool(run.finished), 3)
        assert run.finished[0].disposition == Outcome.PBX_DROPPED
    finally:
        await run.stop()
