"""cc-router against the real Asterisk 22 sandbox with SIPp callers and simulated agents."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from cc_router.core import commands as cmd
from cc_router.core import events as ev
from cc_router.sandbox import SandboxSettings
from cc_router.testing.live import AmiAdmin, LiveService, call, kill_all, wait_until

pytestmark = [pytest.mark.asterisk, pytest.mark.asyncio]


def _agent_channels(chans: list[dict[str, str]], agent: str) -> list[str]:
    return [c["Channel"] for c in chans if c.get("Channel", "").startswith(f"Local/{agent}@")]


async def test_skills_routing_utf8_and_store(live: LiveService, sandbox_settings: SandboxSettings) -> None:
    live.login("ea1", "ea3")
    # CCREnqueue comes on the arrivals session too, the rest in batches (event_batch_s).
    await wait_until(lambda: bool(live.node.health()["arrivals_session"]), 5, "arrivals session up")
    en = await call(sandbox_settings, "20087", 20000, name="李娜", num="13800000001")
    zh = await call(sandbox_settings, "20086", 20000, name="张伟", num="13800000002")
    try:
        await wait_until(lambda: len(live.of(cmd.InteractionConnected)) == 2, 15, "both calls connected")
        by_caller = {live.iid_of_caller("13800000001"): "ea3", live.iid_of_caller("13800000002"): "ea1"}
        assert {o.interaction_id: o.agent_id for o in live.offers()} == by_caller
        # Read on both sessions, each caller was admitted once.
        assert sorted(e.interaction_id for e in live.events_of(ev.InteractionArrived)) == sorted(by_caller)
        # the sim agents talk 1 s then hang up: the interaction ends on the agent's side
        await wait_until(lambda: len(live.of(cmd.InteractionFinished)) == 2, 15, "both calls finished")
        assert {f.disposition for f in live.of(cmd.InteractionFinished)} == {"agent_hangup"}
        assert {f.outcome for f in live.of(cmd.InteractionFinished)} == {"answered"}
        await en.wait(10)
        await zh.wait(10)
        await live.writer.flush()
        engine = create_async_engine(live.config.store.url)
        async with engine.connect() as conn:
            rows = (await conn.execute(sa.text("select caller, agent_id, outcome from interactions"))).all()
        await engine.dispose()
        assert sorted(rows) == [
            ("张伟 <13800000002>", "ea1", "answered"),
            ("李娜 <13800000001>", "ea3", "answered"),
        ]
        # queue_log lines reached Asterisk's own queue_log
        await asyncio.sleep(0.5)
        qlog = (Path(sandbox_settings.root) / "var/log/asterisk/queue_log").read_text(errors="replace")
        iid = live.iid_of_caller("13800000002")
        events = [line.split("|")[4] for line in qlog.splitlines() if f"|{iid}|" in line]
        assert {"ENTERQUEUE", "CONNECT", "COMPLETEAGENT"} <= set(events), events
    finally:
        kill_all([en, zh])


async def test_abandon_waiting_and_while_agent_rings(
    live: LiveService, admin: AmiAdmin, sandbox_settings: SandboxSettings
) -> None:
    waiting = await call(sandbox_settings, "20086", 1500, num="13800000010")  # nobody logged in
    await waiting.wait(10)
    iid = live.iid_of_caller("13800000010")
    await wait_until(lambda: live.finished(iid or "") is not None, 5, "abandon")
    assert live.finished(iid or "").outcome == "abandoned"  # type: ignore[union-attr]

    await admin.sim_agent("ea1", ring=6, talk=1)
    live.login("ea1")
    ringing = await call(sandbox_settings, "20086", 2000, num="13800000011")
    await wait_until(lambda: any(o.agent_id == "ea1" for o in live.offers()), 10, "offer to ea1")
    await asyncio.sleep(0.3)
    assert _agent_channels(await admin.channels(), "ea1"), "agent leg should be ringing"
    await ringing.wait(10)
    iid2 = live.iid_of_caller("13800000011")
    await wait_until(lambda: live.finished(iid2 or "") is not None, 5, "abandon while ringing")
    assert live.finished(iid2 or "").outcome == "abandoned_ringing"  # type: ignore[union-attr]
    assert [c.reason for c in live.of(cmd.CancelOffer)] == ["caller_gone"]
    # the router hung up the agent leg: no orphan keeps ringing
    await admin.wait_no_channels(3, match=lambda c: c.get("Channel", "").startswith("Local/ea1@"))
    assert not live.events_of(ev.OfferAccepted)


async def test_ring_no_answer_keeps_callers_place(
    live: LiveService, admin: AmiAdmin, sandbox_settings: SandboxSettings
) -> None:
    await admin.sim_agent("ea1", answer="0")
    live.login("ea1")
    first = await call(sandbox_settings, "20086", 30000, num="13800000021")
    await wait_until(lambda: bool(live.offers()), 10, "offer to ea1")
    second = await call(sandbox_settings, "20086", 30000, num="13800000022")
    try:
        await wait_until(lambda: live.iid_of_caller("13800000022") is not None, 10, "second arrival")
        # ea1 does not answer: Asterisk's OriginateResponse (no_answer) or the core's own
        # offer timeout, whichever comes first; either way a miss, and (max_misses 1) a pause
        await wait_until(lambda: str(live.service.router.agent_state("ea1")) == "paused", 10, "no answer")
        declined = live.events_of(ev.OfferDeclined)
        timeouts = [c for c in live.of(cmd.CancelOffer) if c.reason == "timeout"]
        assert [d.reason for d in declined] == ["no_answer"] or len(timeouts) == 1
        a, b = live.iid_of_caller("13800000021"), live.iid_of_caller("13800000022")
        assert live.service.router.position(a or "") == 1
        assert live.service.router.position(b or "") == 2
        live.login("ea2")
        await wait_until(lambda: any(o.agent_id == "ea2" for o in live.offers()), 10, "offer to ea2")
        assert next(o.interaction_id for o in live.offers() if o.agent_id == "ea2") == a
        await wait_until(lambda: len(live.of(cmd.InteractionConnected)) == 2, 20, "both served by ea2")
        assert [c.interaction_id for c in live.of(cmd.InteractionConnected)] == [a, b]
    finally:
        kill_all([first, second])


async def test_wrap_up_then_next_oldest_first_across_queues(
    live: LiveService, sandbox_settings: SandboxSettings
) -> None:
    live.login("ea2")  # zh and en: serves both queues
    callers = [await call(sandbox_settings, "20086", 40000, num="13800000030")]
    await wait_until(lambda: bool(live.of(cmd.InteractionConnected)), 10, "first call connected")
    for number, num in (("20087", "13800000031"), ("20086", "13800000032"), ("20087", "13800000033")):
        callers.append(await call(sandbox_settings, number, 40000, num=num))
        await wait_until(lambda n=num: live.iid_of_caller(n) is not None, 10, "arrival")  # type: ignore[misc]
        await asyncio.sleep(0.2)
    try:
        await wait_until(lambda: len(live.of(cmd.InteractionFinished)) == 4, 40, "all four served")
        order = [live.iid_of_caller(n) for n in ("13800000030", "13800000031", "13800000032", "13800000033")]
        assert [c.interaction_id for c in live.of(cmd.InteractionConnected)] == order
        states = [c.state for c in live.of(cmd.AgentStateChanged) if c.agent_id == "ea2"]
        # each call: reserved -> busy -> wrap_up, then the next offer
        assert states.count("wrap_up") == 4
        assert states[:4] == ["ready", "reserved", "busy", "wrap_up"]
        assert {f.outcome for f in live.of(cmd.InteractionFinished)} == {"answered"}
    finally:
        kill_all(callers)


async def test_asterisk_restart_resyncs(
    live: LiveService, admin: AmiAdmin, sandbox_settings: SandboxSettings
) -> None:
    from cc_router.sandbox import down, up

    await admin.sim_agent("ea1", talk=0)  # stays on the call until the caller goes
    live.login("ea1")
    talking = await call(sandbox_settings, "20086", 60000, num="13800000041")
    waiting = await call(sandbox_settings, "20087", 60000, num="13800000042")  # no en agent
    await wait_until(lambda: bool(live.of(cmd.InteractionConnected)), 10, "call connected")
    await wait_until(lambda: live.iid_of_caller("13800000042") is not None, 10, "waiting caller")
    connects = live.node.connects
    await asyncio.to_thread(down, sandbox_settings, 45.0)
    kill_all([talking, waiting])
    await asyncio.to_thread(up, sandbox_settings)
    await wait_until(lambda: live.node.connects > connects and live.node.ready, 30, "reconnected")
    router = live.service.router
    assert router.interactions == {}, router.interactions
    a = live.finished(live.iid_of_caller("13800000041") or "")
    b = live.finished(live.iid_of_caller("13800000042") or "")
    assert a is not None and a.outcome == "answered"
    assert b is not None and b.outcome == "abandoned"
    await wait_until(lambda: str(router.agent_state("ea1")) in ("ready", "wrap_up"), 5, "ea1 free")
    await wait_until(lambda: str(router.agent_state("ea1")) == "ready", 5, "ea1 ready")
    # AstDB survives a restart; set the sim agent again anyway (talk 1 s, then hang up)
    admin2 = AmiAdmin(sandbox_settings)
    await admin2.connect()
    await admin2.sim_agent("ea1", talk=1)
    await admin2.close()
    again = await call(sandbox_settings, "20086", 20000, num="13800000043")
    try:
        await wait_until(lambda: live.iid_of_caller("13800000043") is not None, 10, "new arrival")
        iid = live.iid_of_caller("13800000043")
        await wait_until(lambda: live.finished(iid or "") is not None, 15, "new call served")
        assert live.finished(iid or "").outcome == "answered"  # type: ignore[union-attr]
    finally:
        again.kill()


async def test_drift_check_repairs_lost_events(
    live: LiveService, admin: AmiAdmin, sandbox_settings: SandboxSettings
) -> None:
    """Events lost behind the router's back (handlers silenced, the connection stays up)
    are found by the periodic drift check against Asterisk's channel list and repaired."""
    node = live.node
    node.drift_check.grace_s = 0.3
    num = "13800000051"
    user_handlers = node.ami_in.user_handlers
    enqueue = user_handlers["CCREnqueue"]
    lost: list[object] = []

    def drop(msg: object, now: float) -> tuple[()]:  # the CCREnqueue is lost
        lost.append(msg)
        return ()

    user_handlers["CCREnqueue"] = drop
    caller = await call(sandbox_settings, "20086", 30000, num=num)  # nobody logged in: waits
    try:
        # Restored only once its CCREnqueue has really been dropped: on a loaded machine the
        # UserEvent can come well after the channel shows in the list.
        # With the arrivals session up it comes twice (there, then in the main session's
        # batch): both copies must be lost, or the second admits the caller.
        copies = 2 if node.health()["arrivals_session"] else 1
        await wait_until(lambda: len(lost) >= copies, 10, "the caller's CCREnqueue reaches the router")
        user_handlers["CCREnqueue"] = enqueue
        assert live.iid_of_caller(num) is None
        node.drift_check.interval_s = 1.0
        await wait_until(lambda: live.iid_of_caller(num) is not None, 10, "drift admits the caller")
        assert node.drift["caller_unknown"] == 1
        iid = live.iid_of_caller(num) or ""
        # Now its Hangup is lost: hang the caller up behind the router's back.
        hangup = node.ami_in.handlers["Hangup"]
        node.ami_in.handlers["Hangup"] = lambda frame, now: ()
        try:
            await admin.hangup_all(lambda c: c.get("CallerIDNum") == num)
            await admin.wait_no_channels(5, match=lambda c: c.get("CallerIDNum") == num)
            await asyncio.sleep(0.3)
        finally:
            node.ami_in.handlers["Hangup"] = hangup
        assert live.finished(iid) is None
        await wait_until(lambda: live.finished(iid) is not None, 10, "drift abandons the gone caller")
        assert live.finished(iid).outcome == "abandoned"  # type: ignore[union-attr]
        assert node.drift["caller_gone"] == 1
    finally:
        node.drift_check.interval_s = 0
        caller.kill()
