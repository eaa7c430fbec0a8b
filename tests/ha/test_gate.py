"""The AMI outbox asks leadership before every write: a fenced router sends nothing."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest
from pydantic import SecretStr

from cc_router.adapters.ami.connection import AmiConnection, ConnectionLost
from cc_router.adapters.ami.node import AmiNode
from cc_router.config import loads_config
from cc_router.core import events as ev
from cc_router.service import Service
from tests.ami.fake_ami import FakeAmi
from tests.ami.test_connection import CALLER_UID, CONFIG, HOLD, _until


@dataclass
class _Lead:
    leading: list[bool]
    role: str = "leader"
    leader_address: str = ""

    def may_send(self) -> bool:
        return self.leading[0]


@pytest.mark.asyncio
async def test_connection_writes_nothing_once_fenced() -> None:
    fake = FakeAmi(lambda s, m: None)
    await fake.start()
    leading = [True]
    conn = AmiConnection(
        "127.0.0.1", fake.port, "u", SecretStr("s"), on_event=lambda n, f: None, may_send=lambda: leading[0]
    )
    try:
        await conn.connect()
        leading[0] = False
        refused = conn.send_action({"Action": "Originate", "Channel": "Local/2@x"})
        with pytest.raises(ConnectionLost, match="does not lead"):
            await refused
        leading[0] = True
        queued = conn.send_action({"Action": "Originate", "Channel": "Local/1@x"})
        leading[0] = False  # fenced in the same loop pass, before the write
        with pytest.raises(ConnectionLost):
            await asyncio.wait_for(queued, 2)
        assert not conn.connected
        await asyncio.sleep(0.2)
        assert fake.actions("Originate") == []
    finally:
        conn.close()
        await fake.stop()


@pytest.mark.asyncio
async def test_node_originates_only_while_the_gate_is_open() -> None:
    fake = FakeAmi(lambda s, m: None)
    await fake.start()
    config = loads_config(CONFIG.format(port=fake.port, batch=0.1))
    service = Service.from_config(config)
    leading = [True]
    service.parts.leadership = _Lead(leading)
    node = AmiNode(service, config.asterisk[0])
    node.attach()
    seen: list[ev.Event] = []
    service.listeners.append(lambda e, now: seen.append(e))
    task = asyncio.create_task(node.run())
    try:
        await _until(lambda: node.ready)
        leading[0] = False
        service.submit(ev.AgentLoggedIn("1001"))
        fake.channels.append(HOLD)
        enqueue = {"Event": "UserEvent", "Channel": HOLD["Channel"], "Uniqueid": CALLER_UID}
        enqueue.update(UserEvent="CCREnqueue", Number="10086", CallerNum="13800138000", CallerName="张伟")
        fake.emit({**enqueue, "Lang": "zh", "CallerPriority": "0"})
        await _until(lambda: CALLER_UID in service.router.interactions)
        await asyncio.sleep(0.5)
        assert fake.actions("Originate") == []
        # The core did offer the caller to 1001 (declined or still pending, never rung):
        # the Originate was stopped at the gate.
        offered = any(o.interaction_id == CALLER_UID for o in service.router.offers.values())
        declined = any(isinstance(e, ev.OfferDeclined) for e in seen)
        assert offered or declined
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await fake.stop()
