"""The real Asterisk sandbox: AMI credentials, the ccr-inbound contract, agent connection."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from panoramisk import Manager
from panoramisk.message import Message

from cc_router.sandbox import SandboxSettings, SandboxStatus, cli

from .conftest import AmiTap, Event, sipp_caller, user_event

pytestmark = pytest.mark.asterisk


async def _panoramisk(settings: SandboxSettings) -> Manager:
    manager = Manager(
        loop=asyncio.get_running_loop(),
        host="127.0.0.1",
        port=settings.ami_port,
        username=settings.ami_user,
        secret=settings.ami_secret,
        ping_delay=3600,
        reconnect_timeout=3600,
    )
    await manager.connect()
    for _ in range(100):
        if manager.authenticated_future is not None:
            break
        await asyncio.sleep(0.01)
    assert manager.authenticated_future is not None
    await manager.authenticated_future
    return manager


def test_sandbox_is_up(sandbox: SandboxStatus, sandbox_settings: SandboxSettings) -> None:
    assert sandbox.built and sandbox.running
    assert sandbox.version and "Asterisk 22" in sandbox.version
    assert sandbox.ami == "127.0.0.1:15038"
    modules = cli(sandbox_settings, "module show like res_fax_spandsp")
    assert "1 modules loaded" in modules


@pytest.mark.asyncio
async def test_ami_login_with_project_credentials(
    sandbox: SandboxStatus, sandbox_settings: SandboxSettings
) -> None:
    manager = await _panoramisk(sandbox_settings)
    try:
        assert manager.authenticated
        pong = await manager.send_action({"Action": "Ping"})
        assert pong.success
    finally:
        manager.close()


@pytest.mark.asyncio
async def test_sipp_call_enqueues_with_utf8_caller_name(
    ami_tap: AmiTap, sandbox_settings: SandboxSettings
) -> None:
    number = "10086"
    caller = await sipp_caller(sandbox_settings, number, 1500, name="张伟", num="13800138000", port=15095)
    try:
        enq = await ami_tap.wait_for(
            lambda m: user_event("CCREnqueue")(m) and m.get("CallerNum") == "13800138000"
        )
        assert enq["Number"] == number
        assert enq["CallerName"] == "张伟"
        assert enq["CallerIDName"] == "张伟"
        assert enq["Lang"] == "en"
        assert enq["CallerPriority"] == "0"
        assert enq["Channel"].startswith("PJSIP/trunk-")
        await ami_tap.wait_for(lambda m: m.get("Event") == "Hangup" and m.get("Uniqueid") == enq["Uniqueid"])
    finally:
        await asyncio.wait_for(caller.wait(), 10)
    assert caller.returncode == 0


@pytest.mark.asyncio
async def test_originate_sim_agent_bridges_with_caller(
    ami_tap: AmiTap, sandbox_settings: SandboxSettings
) -> None:
    agent = f"t{uuid.uuid4().hex[:8]}"
    iid = f"iid-{agent}"
    events: list[Message] = []
    manager = await _panoramisk(sandbox_settings)
    manager.register_event("Bridge*", lambda _mgr, msg: events.append(msg))
    for key, value in (("ring", "0"), ("talk", "1"), ("answer", "1")):
        resp = await manager.send_action(
            {"Action": "DBPut", "Family": "ccrsim", "Key": f"{agent}/{key}", "Val": value}
        )
        assert resp.success
    caller = await sipp_caller(sandbox_settings, "95598", 15000, name="李娜", num="13900139000", port=15096)
    try:
        enq = await ami_tap.wait_for(
            lambda m: user_event("CCREnqueue")(m) and m.get("CallerNum") == "13900139000"
        )
        resp = await manager.send_action(
            {
                "Action": "Originate",
                "Channel": f"Local/{agent}@ccr-sim-agent",
                "Context": "ccr-agent",
                "Exten": "connect",
                "Priority": "1",
                "Timeout": "10000",
                "Async": "true",
                "ChannelId": f"{iid}-agent",
                "Variable": f"CCR_CALLER={enq['Channel']},CCR_IID={iid},CCR_AGENT={agent}",
            }
        )
        # panoramisk collects an async Originate's reply *and* its OriginateResponse event
        replies = resp if isinstance(resp, list) else [resp]
        assert replies[0].success, replies
        answered = await ami_tap.wait_for(lambda m: user_event("CCRAgentAnswered")(m) and m.get("IID") == iid)
        assert answered["Agent"] == agent
        assert answered["Uniqueid"] == f"{iid}-agent"
        assert answered["Caller"] == enq["Channel"]

        def entered(uid: str, technology: str | None = None) -> Event:
            return lambda m: (  # type: ignore[return-value]
                m.get("Event") == "BridgeEnter"
                and m.get("Uniqueid") == uid
                and (m.get("BridgeTechnology") == "holding_bridge") == (technology == "holding_bridge")
            )

        # On hold the caller waits in a holding bridge of its own (BridgeWait), from which
        # the agent leg's Bridge() moves it into the agent bridge.
        held = await ami_tap.wait_for(entered(enq["Uniqueid"], "holding_bridge"))  # type: ignore[arg-type]
        assert held["BridgeCreator"] == "BridgeWait"
        caller_in = await ami_tap.wait_for(entered(enq["Uniqueid"]))  # type: ignore[arg-type]
        agent_in = await ami_tap.wait_for(entered(f"{iid}-agent"))  # type: ignore[arg-type]
        assert caller_in["BridgeUniqueid"] == agent_in["BridgeUniqueid"]
        # talk=1: the agent hangs up after a second and the caller leg ends with it
        await ami_tap.wait_for(lambda m: m.get("Event") == "Hangup" and m.get("Uniqueid") == enq["Uniqueid"])
        bridge_events = {m.Event for m in events}
        assert {"BridgeCreate", "BridgeEnter", "BridgeLeave"} <= bridge_events
    finally:
        await manager.send_action({"Action": "DBDelTree", "Family": "ccrsim", "Key": agent})
        manager.close()
        await asyncio.wait_for(caller.wait(), 20)
    assert caller.returncode == 0
