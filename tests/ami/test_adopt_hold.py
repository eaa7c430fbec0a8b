"""A call the agent holds when the router stops: the router writes the hold on the caller's
channel as it goes (CCR_HELD, CCR_HOLD_S), and a router started again reads it with the
adopted call, so the hold goes on and its time is kept."""

from __future__ import annotations

import asyncio
import time

import pytest

from cc_router.core import commands as cmd
from cc_router.core import events as ev
from tests.ami.fake_ami import FakeAmi
from tests.ami.test_adopt import _caller, _leg, _node
from tests.ami.test_connection import _until


@pytest.mark.asyncio
async def test_an_adopted_call_on_hold_stays_on_hold_with_its_time() -> None:
    fake = FakeAmi()
    now = time.time()
    bridged, leg = _caller(2, "b-42"), _leg("0a0b0c", 7, "b-42")
    fake.channels += [bridged, leg]
    fake.channel_variables[bridged["Channel"]] = {
        "CCR_NUMBER": "10086", "CCR_ARRIVED": f"{now - 90:.3f}",
        "CCR_HELD": f"{now - 6:.3f}", "CCR_HOLD_S": "4.500",
    }  # fmt: skip
    fake.channel_variables[leg["Channel"]] = {
        "CCR_CALLER": bridged["Uniqueid"], "CCR_IID": bridged["Uniqueid"], "CCR_AGENT": "1001",
        "CCR_OFFER": "o12", "CCR_ANSWERED": f"{now - 45:.3f}",
    }  # fmt: skip
    await fake.start()
    service, _, events, task = await _node(fake)
    try:
        (adopted,) = [e for e in events if isinstance(e, ev.InteractionAdopted)]
        assert adopted.held_since == pytest.approx(now - 6, abs=1e-3) and adopted.hold_s == 4.5
        finished: list[cmd.InteractionFinished] = []
        service.sinks.append(
            lambda cs, _now: finished.extend(c for c in cs if isinstance(c, cmd.InteractionFinished))
        )
        # The agent takes the caller off hold: the hold ends, and its time is written back.
        uid = bridged["Uniqueid"]
        fake.emit({"Event": "MusicOnHoldStop", "Uniqueid": uid, "Channel": bridged["Channel"]})
        await _until(lambda: ev.InteractionResumed(uid) in events)
        await _until(lambda: len(fake.actions("Setvar")) >= 2)
        written = {m["Variable"]: m["Value"] for _, m in fake.actions("Setvar")}
        assert written["CCR_HELD"] == ""
        assert float(written["CCR_HOLD_S"]) == pytest.approx(4.5 + 6, abs=0.5)
        # Held again: the start is written on the channel for the next restart.
        fake.emit({"Event": "MusicOnHoldStart", "Uniqueid": uid, "Channel": bridged["Channel"]})
        await _until(lambda: len(fake.actions("Setvar")) >= 3)
        _, last = fake.actions("Setvar")[-1]
        assert last["Variable"] == "CCR_HELD" and float(last["Value"]) == pytest.approx(time.time(), abs=2)
        fake.emit({"Event": "Hangup", "Uniqueid": uid, "Channel": bridged["Channel"]})
        await _until(lambda: bool(finished))
        (fin,) = finished
        assert fin.hold_s == pytest.approx(4.5 + 6, abs=0.5)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await fake.stop()
