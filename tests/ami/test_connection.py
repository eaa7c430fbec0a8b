"""Liveness and loss against a scripted AMI server: detect half-open links, never re-send."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable

import pytest

from cc_router.adapters.ami.connection import AmiConnection, ConnectionLost, LoginFailed
from cc_router.adapters.ami.node import AmiNode
from cc_router.adapters.ami.registry import LegState
from cc_router.config import loads_config
from cc_router.core import events as ev
from cc_router.service import Service
from tests.ami.fake_ami import FakeAmi, FakeSession, Msg

CONFIG = """
skills: [lang_zh]
agents:
  - {{id: "1001", skills: {{lang_zh: 5}}}}
queues:
  - {{name: support, requirement: lang_zh}}
numbers:
  "10086": {{queue: support}}
asterisk:
  - {{name: ast1, port: {port}, secret: s3cret,
     ping_interval_s: 0.2, ping_timeout_s: 0.3, reconnect_max_s: 0.5,
     event_batch_s: {batch}}}
"""

CALLER_UID = "1700000000.1"
HOLD = {
    "Channel": "PJSIP/trunk-00000001",
    "Uniqueid": CALLER_UID,
    "Context": "ccr-inbound",
    "Exten": "ccr-hold",
    "Application": "MusicOnHold",
    "CallerIDNum": "13800138000",
    "CallerIDName": "张伟",
    "BridgeId": "",
}


async def _until(pred: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def _running(
    fake: FakeAmi, *, batch: float = 0.0
) -> AsyncIterator[tuple[Service, AmiNode, list[ev.Event]]]:
    """A node on the started `fake`, once ready; the node and the fake are stopped after.
    One session per connect unless `batch` (event_batch_s: the arrivals session too)."""
    config = loads_config(CONFIG.format(port=fake.port, batch=batch))
    service = Service.from_config(config)
    node = AmiNode(service, config.asterisk[0])
    node.attach()
    events: list[ev.Event] = []
    service.listeners.append(lambda e, now: events.append(e))
    task = asyncio.create_task(node.run())
    try:
        await _until(lambda: node.ready)
        yield service, node, events
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await fake.stop()


@pytest.mark.asyncio
async def test_half_open_connection_is_detected_and_replaced() -> None:
    def script(s: FakeSession, m: Msg) -> str | None:
        # The first session stops answering after login: TCP stays up, nothing comes back.
        return "silent" if s.number == 1 and m.get("Action") == "Ping" else None

    fake = FakeAmi(script)
    await fake.start()
    async with _running(fake) as (_service, node, _events):
        t0 = time.monotonic()
        await _until(lambda: node.connects == 2 and node.ready, timeout=5)
        assert time.monotonic() - t0 < 3
        assert len(fake.sessions) == 2


@pytest.mark.parametrize("leg_survives", [False, True])
@pytest.mark.asyncio
async def test_drop_mid_originate_is_not_resent(leg_survives: bool) -> None:
    def script(s: FakeSession, m: Msg) -> str | None:
        if m.get("Action") == "Originate" and s.number == 1:
            if leg_survives:
                fake.channels.append({"Channel": "Local/1001@ccr-sim-agent-1;1", "Uniqueid": m["ChannelId"]})
            return "drop"
        return None

    fake = FakeAmi(script)
    await fake.start()
    async with _running(fake) as (service, node, events):
        service.submit(ev.AgentLoggedIn("1001"))
        fake.channels.append(HOLD)
        enqueue = {"Event": "UserEvent", "Channel": HOLD["Channel"], "Uniqueid": CALLER_UID}
        enqueue.update(UserEvent="CCREnqueue", Number="10086", CallerNum="13800138000", CallerName="张伟")
        fake.emit({**enqueue, "Lang": "zh", "CallerPriority": "0"})
        await _until(lambda: len(fake.sessions) == 2 and node.ready and node.connects == 2)
        await asyncio.sleep(0.3)
        assert len(fake.actions("Originate")) == 1  # never sent again on the new connection
        declined = [e for e in events if isinstance(e, ev.OfferDeclined)]
        if leg_survives:
            assert declined == []  # the leg exists: the Originate was carried out
            assert node.registry.legs and next(iter(node.registry.legs.values())).state is LegState.QUEUED
        else:
            assert declined == [ev.OfferDeclined(CALLER_UID, "1001", "failed")]
        # the caller is still on hold in the snapshot: still waiting, not abandoned
        assert not [e for e in events if isinstance(e, ev.InteractionAbandoned)]
        assert CALLER_UID in service.router.interactions


@pytest.mark.asyncio
async def test_snapshot_finds_new_callers_and_drops_vanished_ones() -> None:
    fake = FakeAmi(lambda s, m: "drop" if s.number == 1 and m.get("Action") == "Ping" else None)
    fake.channels.append(HOLD)
    fake.variables.update(CCR_NUMBER="10086", CCR_LANG="zh", CCR_PRIORITY="2")
    await fake.start()
    async with _running(fake) as (_service, node, events):
        arrived = [e for e in events if isinstance(e, ev.InteractionArrived)]
        assert [(a.interaction_id, a.queue, a.priority, a.caller) for a in arrived] == [
            (CALLER_UID, "support", 2, "张伟 <13800138000>")
        ]
        fake.channels.clear()  # the caller hangs up while we are disconnected
        await _until(lambda: node.connects == 2 and node.ready)
        assert [e for e in events if isinstance(e, ev.InteractionAbandoned)] == [
            ev.InteractionAbandoned(CALLER_UID)
        ]


@pytest.mark.asyncio
async def test_login_refused_and_pending_actions_fail_on_loss() -> None:
    def script(s: FakeSession, m: Msg) -> str | None:
        if m.get("Action") == "Login" and m.get("Secret") != "good":
            s.send({"Response": "Error", "ActionID": m["ActionID"], "Message": "Authentication failed"})
            return "silent"
        return "drop" if m.get("Action") == "Originate" else None

    fake = FakeAmi(script)
    await fake.start()
    from pydantic import SecretStr

    bad = AmiConnection("127.0.0.1", fake.port, "u", SecretStr("bad"), on_event=lambda n, f: None)
    with pytest.raises(LoginFailed) as err:
        await bad.connect()
    assert "bad" not in str(err.value)
    good = AmiConnection("127.0.0.1", fake.port, "u", SecretStr("good"), on_event=lambda n, f: None)
    await good.connect()
    fut = good.send_action({"Action": "Originate", "Channel": "Local/1@x"})
    with pytest.raises(ConnectionLost):
        await asyncio.wait_for(fut, 2)
    await fake.stop()


@pytest.mark.parametrize("refuse_all", [False, True])
@pytest.mark.asyncio
async def test_a_refused_session_filter_leaves_the_node_unfiltered(refuse_all: bool) -> None:
    from cc_router.adapters.ami.supervisor import SESSION_FILTERS

    def script(s: FakeSession, m: Msg) -> str | None:
        s.silent = False  # "silent" below only keeps the normal answer of this one action
        if m.get("Action") == "Filter" and (refuse_all or "header(Uniqueid)" in m.get("MatchCriteria", "")):
            s.send({"Response": "Error", "ActionID": m["ActionID"], "Message": "Invalid filter"})
            return "silent"
        return None

    fake = FakeAmi(script)
    await fake.start()
    async with _running(fake) as (_service, node, _events):
        first = [m for n, m in fake.actions("Filter") if n == 1]
        assert len(first) == len(SESSION_FILTERS)
        if refuse_all:
            # Nothing took: this session is unfiltered already.
            await asyncio.sleep(0.3)
            assert node.connects == 1 and len(fake.sessions) == 1
        else:
            # One took not: a session passing only what the others include would miss the
            # agent legs' Newchannels; the next one is unfiltered.
            await _until(lambda: node.connects == 2 and node.ready)
            assert [m for n, m in fake.actions("Filter") if n == 2] == []
        assert node.supervisor.filters_refused
