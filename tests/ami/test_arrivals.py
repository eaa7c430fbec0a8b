"""The arrivals session (arrivals.py) and the main session read in batches, against the
scripted AMI server, which applies each session's filters as Asterisk does."""

from __future__ import annotations

import asyncio
import time

import pytest

from cc_router.adapters.ami.arrivals import ARRIVALS_FILTER
from cc_router.core import events as ev
from tests.ami.fake_ami import FakeAmi, FakeSession, Msg
from tests.ami.test_connection import CALLER_UID, HOLD, _running, _until

pytestmark = pytest.mark.asyncio

BATCH_S = 0.4


def _enqueue(uid: str = CALLER_UID) -> Msg:
    return {
        "Event": "UserEvent", "UserEvent": "CCREnqueue", "Channel": HOLD["Channel"], "Uniqueid": uid,
        "Number": "10086", "CallerNum": "13800138000", "CallerName": "张伟", "Lang": "zh",
        "CallerPriority": "0",
    }  # fmt: skip


def _arrivals(fake: FakeAmi) -> FakeSession:
    (session,) = [s for s in fake.sessions if [f.value for f in s.filters] == [ARRIVALS_FILTER[1]]]
    return session


def _main(fake: FakeAmi) -> FakeSession:
    return [s for s in fake.sessions if len(s.filters) > 1][-1]


def _device(state: str) -> Msg:
    return {"Event": "DeviceStateChange", "Device": "PJSIP/1001", "State": state}


async def test_arrivals_come_at_once_and_the_rest_in_batches() -> None:
    fake = FakeAmi()
    await fake.start()
    async with _running(fake, batch=BATCH_S) as (service, node, events):
        await _until(lambda: bool(node.health()["arrivals_session"]))
        arrivals, main = _arrivals(fake), _main(fake)
        assert len(fake.actions("Filter")) == len(main.filters) + 1
        service.submit(ev.AgentLoggedIn("1001"))
        conn = node.conn
        assert conn is not None
        # After a read the main session is left alone for BATCH_S; Asterisk sends the
        # CCREnqueue to both sessions, and the arrivals session reads it at once.
        reads = conn.reads
        main.event(_device("INUSE"))
        await _until(lambda: conn.reads > reads, timeout=2 * BATCH_S)
        t0 = time.monotonic()
        fake.emit(_enqueue())
        await _until(lambda: fake.actions("Originate") != [], timeout=BATCH_S)
        assert time.monotonic() - t0 < BATCH_S / 2
        assert node.early_arrivals == 1
        # Its copy in the main session's batch finds the caller held: admitted once.
        reads = conn.reads
        await _until(lambda: conn.reads > reads, timeout=2 * BATCH_S)
        await asyncio.sleep(0.05)
        assert [e.interaction_id for e in events if isinstance(e, ev.InteractionArrived)] == [CALLER_UID]
        assert len(fake.actions("Originate")) == 1

        # Right after a read the main session is left alone: two events sent then wait
        # for the next batch and come in one read.
        main.event(_device("NOT_INUSE"))
        await _until(lambda: conn.reads > reads + 1, timeout=2 * BATCH_S)
        seen = conn.reads
        assert arrivals.passes(_device("INUSE")) is False
        main.event(_device("NOT_INUSE"))
        main.event(_device("INUSE"))
        await asyncio.sleep(BATCH_S / 4)
        assert conn.reads == seen
        await _until(lambda: conn.reads > seen, timeout=2 * BATCH_S)
        await asyncio.sleep(0.05)
        assert conn.reads == seen + 1

        # A reply someone waits for is not held back by the pacing.
        main.event(_device("NOT_INUSE"))
        await _until(lambda: conn.reads > seen + 1, timeout=2 * BATCH_S)
        t0 = time.monotonic()
        await asyncio.wait_for(node.send_action({"Action": "Getvar", "Variable": "X"}), BATCH_S)
        assert time.monotonic() - t0 < BATCH_S / 2


async def test_an_arrival_after_its_hangup_is_not_revived() -> None:
    fake = FakeAmi()
    await fake.start()
    async with _running(fake, batch=BATCH_S) as (_service, node, events):
        await _until(lambda: bool(node.health()["arrivals_session"]))
        arrivals, main = _arrivals(fake), _main(fake)
        # The arrivals session lags: the main session's batch brings the caller's
        # CCREnqueue and its Hangup first.
        main.event(_enqueue("1700000000.9"))
        main.event({"Event": "Hangup", "Uniqueid": "1700000000.9", "Channel": HOLD["Channel"]})
        await _until(lambda: any(isinstance(e, ev.InteractionAbandoned) for e in events), timeout=2)
        arrivals.event(_enqueue("1700000000.9"))
        await asyncio.sleep(0.2)
        assert node.early_arrivals == 0
        arrived = [e for e in events if isinstance(e, ev.InteractionArrived)]
        assert [e.interaction_id for e in arrived] == ["1700000000.9"]


async def test_without_the_arrivals_session_the_main_one_is_read_as_data_comes() -> None:
    def script(s: FakeSession, m: Msg) -> str | None:
        # The arrivals session drops at its first Ping; later ones are refused their filter.
        if m.get("Action") == "Filter" and m.get("Filter") == ARRIVALS_FILTER[1] and s.number > 2:
            s.send({"Response": "Error", "ActionID": m["ActionID"], "Message": "Invalid filter"})
            return "silent"
        if m.get("Action") == "Ping" and s.number == 2:
            return "drop"
        return None

    fake = FakeAmi(script)
    await fake.start()
    async with _running(fake, batch=BATCH_S) as (service, node, events):
        await _until(lambda: bool(node.health()["arrivals_session"]))
        await _until(lambda: len(fake.sessions) == 3, timeout=5)
        await _until(
            lambda: node.supervisor.arrivals is not None and node.supervisor.arrivals.last_error != ""
        )
        assert not node.health()["arrivals_session"]
        conn = node.conn
        assert conn is not None and conn.read_interval_s == 0
        service.submit(ev.AgentLoggedIn("1001"))
        t0 = time.monotonic()
        fake.emit(_enqueue())
        await _until(lambda: fake.actions("Originate") != [], timeout=BATCH_S)
        assert time.monotonic() - t0 < BATCH_S / 2
        assert node.early_arrivals == 0  # read on the main session, as it came
        assert [e.interaction_id for e in events if isinstance(e, ev.InteractionArrived)] == [CALLER_UID]
