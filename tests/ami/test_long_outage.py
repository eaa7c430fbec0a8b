"""A long outage of one node's AMI link records each waiting caller once.

Link lost but Asterisk still there (connects fail without being refused): the callers are
not recorded at `drop_callers_after_s`; the snapshot on return finds them on hold and they
go on waiting, then end as they really do. Asterisk known dead (its port refuses): they are
recorded `pbx_dropped`, and should one be found on hold after all, it is not admitted a
second time."""

from __future__ import annotations

import asyncio

import pytest

from cc_router.adapters.ami.node import AmiNode
from cc_router.config import loads_config
from cc_router.core import commands as cmd
from cc_router.core import events as ev
from cc_router.core.vocabulary import Outcome
from cc_router.service import Service
from cc_router.testing.live import wait_until
from tests.ami.fake_ami import FakeAmi, FakeSession, Msg

pytestmark = pytest.mark.asyncio

CONFIG = """
skills: [zh]
queues:
  - {{name: support, requirement: zh}}
numbers:
  "10086": {{queue: support}}
asterisk:
  - {{name: ast1, port: {port}, secret: s3cret, ping_interval_s: 0.2, ping_timeout_s: 0.3,
     reconnect_max_s: 0.3, drop_callers_after_s: 0.5}}
"""

UID = "1700000000.7"
HOLD = {
    "Channel": "PJSIP/trunk-00000007",
    "Uniqueid": UID,
    "Context": "ccr-inbound",
    "Exten": "ccr-hold",
    "Application": "BridgeWait",
    "CallerIDNum": "13800138000",
    "CallerIDName": "",
    "BridgeId": "",
}


class Run:
    def __init__(self, fake: FakeAmi) -> None:
        config = loads_config(CONFIG.format(port=fake.port))
        self.service = Service.from_config(config)
        self.node = AmiNode(self.service, config.asterisk[0])
        self.node.attach()
        self.events: list[ev.Event] = []
        self.finished: list[cmd.InteractionFinished] = []
        self.service.listeners.append(lambda e, now: self.events.append(e))
        self.service.sinks.append(
            lambda cs, now: self.finished.extend(c for c in cs if isinstance(c, cmd.InteractionFinished))
        )
        self.fake = fake
        self.task = asyncio.create_task(self.node.run())

    def arrivals(self) -> int:
        return sum(isinstance(e, ev.InteractionArrived | ev.InteractionAdopted) for e in self.events)

    async def caller_waits(self) -> None:
        await wait_until(lambda: self.node.ready, 5)
        self.fake.channels.append(HOLD)
        self.fake.variables.update(CCR_NUMBER="10086")
        self.fake.emit(
            {"Event": "UserEvent", "UserEvent": "CCREnqueue", "Channel": HOLD["Channel"], "Uniqueid": UID,
             "Number": "10086", "CallerNum": "13800138000"}
        )  # fmt: skip
        await wait_until(lambda: UID in self.service.router.interactions, 5)

    async def stop(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        await self.fake.stop()


async def test_link_lost_longer_than_the_drop_delay_then_back_records_the_caller_once() -> None:
    muted = False

    def script(s: FakeSession, m: Msg) -> str | None:
        return "drop" if muted else None  # connects, then closes: not refused, not known dead

    fake = FakeAmi(script)
    await fake.start()
    run = Run(fake)
    try:
        await run.caller_waits()
        muted = True
        fake.sessions[-1].writer.close()
        await wait_until(lambda: not run.node.ready, 5)
        await asyncio.sleep(1.5)  # three times drop_callers_after_s
        assert not [e for e in run.events if isinstance(e, ev.InteractionDropped)]
        assert run.finished == []
        assert UID in run.service.router.interactions  # keeps its place
        muted = False
        await wait_until(lambda: run.node.ready, 5)
        await asyncio.sleep(0.2)
        assert run.arrivals() == 1  # found on hold: the same interaction, not a new one
        fake.emit({"Event": "Hangup", "Channel": HOLD["Channel"], "Uniqueid": UID})
        await wait_until(lambda: bool(run.finished), 5)
        await asyncio.sleep(0.2)
        assert [(f.interaction_id, f.outcome) for f in run.finished] == [(UID, Outcome.ABANDONED)]
    finally:
        await run.stop()


async def test_asterisk_dead_records_dropped_once_even_if_the_caller_is_found_later() -> None:
    fake = FakeAmi()
    await fake.start()
    run = Run(fake)
    try:
        await run.caller_waits()
        await fake.stop()  # the port refuses from now on: that Asterisk is gone
        await wait_until(lambda: bool(run.finished), 5)
        [f] = run.finished
        assert (f.interaction_id, f.outcome) == (UID, Outcome.PBX_DROPPED)
        # The same Asterisk answers again and still lists the caller on hold.
        await fake.start()
        await wait_until(lambda: run.node.ready, 5)
        hung_up = lambda: any(m.get("Channel") == HOLD["Channel"] for _, m in fake.actions("Hangup"))  # noqa: E731
        await wait_until(hung_up, 5, "the dropped caller hung up")
        assert run.arrivals() == 1
        assert len(run.finished) == 1
    finally:
        await run.stop()
