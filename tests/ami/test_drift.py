"""Drift checks against a scripted AMI server: lost events are found and the safe ones fixed."""

from __future__ import annotations

import asyncio

import pytest

from cc_router.core import events as ev
from tests.ami.fake_ami import FakeAmi
from tests.ami.test_connection import CALLER_UID, HOLD, _running, _until


def _enqueue(uid: str, channel: str) -> dict[str, str]:
    return {
        "Event": "UserEvent",
        "Channel": channel,
        "Uniqueid": uid,
        "UserEvent": "CCREnqueue",
        "Number": "10086",
        "CallerNum": "13800138000",
        "CallerName": "张伟",
        "Lang": "zh",
        "CallerPriority": "0",
    }


@pytest.mark.asyncio
async def test_drift_finds_gone_unknown_and_orphans_and_corrects_them() -> None:
    fake = FakeAmi()
    await fake.start()
    async with _running(fake) as (service, node, events):
        node.drift_check.grace_s = 0.05
        # A waiting caller the router knows, whose Hangup is then lost.
        fake.channels.append(HOLD)
        fake.emit(_enqueue(CALLER_UID, HOLD["Channel"]))
        await _until(lambda: CALLER_UID in service.router.interactions)
        assert await node.drift_check.check() == {}  # nothing differs: nothing reported
        fake.channels.clear()
        # A caller on hold whose CCREnqueue was lost, and an agent leg of ours with no offer.
        other = {**HOLD, "Channel": "PJSIP/trunk-00000002", "Uniqueid": "1700000000.2"}
        orphan = {
            "Channel": "Local/1001@ccr-sim-agent-00000001;1",
            "Uniqueid": f"ccr-{node.registry.run_token}-77",
        }
        fake.channels += [other, orphan]
        fake.variables.update(CCR_NUMBER="10086", CCR_LANG="zh", CCR_PRIORITY="0")
        found = await node.drift_check.check()
        assert found == {"caller_gone": 1, "caller_unknown": 1, "leg_orphan": 1}
        assert ev.InteractionAbandoned(CALLER_UID) in events
        assert "1700000000.2" in service.router.interactions
        await _until(lambda: any(m.get("Channel") == orphan["Uniqueid"] for _, m in fake.actions("Hangup")))
        assert node.drift == {"caller_gone": 1, "caller_unknown": 1, "leg_orphan": 1}
        assert node.health()["drift"] == dict(node.drift)


@pytest.mark.asyncio
async def test_drift_suspect_cleared_by_late_event() -> None:
    """A Hangup that arrives during the grace period explains the difference: no drift."""
    fake = FakeAmi()
    await fake.start()
    async with _running(fake) as (service, node, events):
        node.drift_check.grace_s = 0.3
        fake.channels.append(HOLD)
        fake.emit(_enqueue(CALLER_UID, HOLD["Channel"]))
        await _until(lambda: CALLER_UID in service.router.interactions)
        fake.channels.clear()
        check = asyncio.create_task(node.drift_check.check())
        await asyncio.sleep(0.1)
        fake.emit({"Event": "Hangup", "Channel": HOLD["Channel"], "Uniqueid": CALLER_UID})
        assert await check == {}
        assert events.count(ev.InteractionAbandoned(CALLER_UID)) == 1
        assert node.drift == {}


@pytest.mark.asyncio
async def test_drift_loop_runs_periodically_and_leaves_foreign_callers() -> None:
    fake = FakeAmi()
    await fake.start()
    async with _running(fake) as (service, node, _events):
        node.exit_unknown_numbers = False
        node.drift_check.grace_s = 0.01
        foreign = {**HOLD, "Uniqueid": "1700000000.9"}
        fake.channels.append(foreign)
        fake.variables.update(CCR_NUMBER="99999")  # not ours: another router's caller
        node.drift_check.interval_s = 0.05
        # the loop was started with the config's interval; it re-reads it on every round
        await _until(lambda: node.drift_check.checks >= 2 or len(fake.actions("CoreShowChannels")) >= 3, 70)
        assert node.drift == {}
        assert "1700000000.9" not in service.router.interactions
