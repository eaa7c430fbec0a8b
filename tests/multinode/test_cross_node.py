"""One router, two real Asterisk nodes: callers on one node served by agents on the other."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from cc_router.core import commands as cmd
from cc_router.core import events as ev
from cc_router.core.vocabulary import AgentState, Outcome, RemoteChoice
from cc_router.sandbox import SandboxSettings, status, up
from cc_router.sandbox.provision import stop_node
from cc_router.testing.live import AmiAdmin, LiveService, call, kill_all, wait_until
from tests.multinode.conftest import make_live

pytestmark = [pytest.mark.asterisk, pytest.mark.asyncio]


def legs_of(chans: list[dict[str, str]], agent: str) -> list[str]:
    return [c["Channel"] for c in chans if c.get("Channel", "").startswith(f"Local/{agent}@")]


async def rows(live: LiveService) -> list[tuple[str, str | None, str]]:
    await live.writer.flush()
    engine = create_async_engine(live.config.store.url)
    async with engine.connect() as conn:
        query = sa.text("select interaction_id, agent_id, outcome from interactions")
        got = (await conn.execute(query)).all()
    await engine.dispose()
    return [tuple(r) for r in got]  # type: ignore[misc]


async def test_caller_on_node1_agent_on_node2_connected_and_recorded_once(
    live: LiveService, admins: list[AmiAdmin], nodes: list[SandboxSettings]
) -> None:
    await admins[1].sim_agent("m21", ring=1, talk=2)
    live.login("m21")
    caller = await call(nodes[0], "30086", 20000, num="13900000001")
    try:
        await wait_until(lambda: bool(live.of(cmd.InteractionConnected)), 15, "connected over the trunk")
        [offer] = live.offers()
        assert offer.agent_id == "m21"
        assert offer.explanation.remote is RemoteChoice.NO_LOCAL_AGENT
        assert offer.explanation.route == "node1->node2"
        # the agent's phone rang and talks on its own node
        assert legs_of(await admins[1].channels(), "m21")
        await wait_until(lambda: bool(live.of(cmd.InteractionFinished)), 15, "agent hung up")
        [done] = live.of(cmd.InteractionFinished)
        assert (done.outcome, done.disposition, done.agent_id) == ("answered", "agent_hangup", "m21")
        assert await rows(live) == [(offer.interaction_id, "m21", "answered")]
        await admins[0].wait_no_channels(5, match=lambda c: c.get("CallerIDNum") == "13900000001")
    finally:
        kill_all([caller])


async def test_remote_ring_no_answer_returns_the_caller_to_its_place(
    live: LiveService, admins: list[AmiAdmin], nodes: list[SandboxSettings]
) -> None:
    await admins[1].sim_agent("m21", answer="0")
    live.login("m21")
    first = await call(nodes[0], "30086", 30000, num="13900000011")
    await wait_until(lambda: bool(live.offers()), 10, "offer to m21")
    second = await call(nodes[0], "30086", 30000, num="13900000012")
    try:
        await wait_until(lambda: live.iid_of_caller("13900000012") is not None, 10, "second arrival")
        await wait_until(lambda: live.service.router.agent_state("m21") is AgentState.PAUSED, 10, "miss")
        a, b = live.iid_of_caller("13900000011"), live.iid_of_caller("13900000012")
        assert live.service.router.position(a or "") == 1
        assert live.service.router.position(b or "") == 2
        # the remote leg is gone on node 2 too
        await admins[1].wait_no_channels(5, match=lambda c: c.get("Channel", "").startswith("Local/m21@"))
        live.login("m11")
        await wait_until(lambda: any(o.agent_id == "m11" for o in live.offers()), 10, "local agent")
        assert next(o.interaction_id for o in live.offers() if o.agent_id == "m11") == a
    finally:
        kill_all([first, second])


async def test_caller_hangs_up_while_the_remote_agent_rings(
    live: LiveService, admins: list[AmiAdmin], nodes: list[SandboxSettings]
) -> None:
    await admins[1].sim_agent("m21", ring=8)
    live.login("m21")
    caller = await call(nodes[0], "30086", 2500, num="13900000021")
    await wait_until(lambda: bool(live.offers()), 10, "offer to m21")
    await wait_until(lambda: bool(live.events_of(ev.InteractionArrived)), 1, "arrival")
    await asyncio.sleep(0.5)
    assert legs_of(await admins[1].channels(), "m21"), "the remote agent should be ringing"
    await caller.wait(10)
    iid = live.iid_of_caller("13900000021") or ""
    await wait_until(lambda: live.finished(iid) is not None, 5, "abandon while ringing")
    assert live.finished(iid).outcome == "abandoned_ringing"  # type: ignore[union-attr]
    await admins[1].wait_no_channels(3, match=lambda c: c.get("Channel", "").startswith("Local/m21@"))
    await admins[0].wait_no_channels(3, match=lambda c: "ccr-trunk" in c.get("Channel", ""))
    assert not live.events_of(ev.OfferAccepted)


async def test_trunk_max_calls_is_respected(
    admins: list[AmiAdmin], nodes: list[SandboxSettings], tmp_path: Path
) -> None:
    async with make_live(nodes, tmp_path, max_calls=1) as live:
        await admins[1].sim_agent("m21", talk=4)
        await admins[1].sim_agent("m22", talk=4)
        live.login("m21", "m22")
        callers = [await call(nodes[0], "30086", 20000, num=f"1390000003{i}") for i in (1, 2)]
        try:
            await wait_until(lambda: bool(live.of(cmd.InteractionConnected)), 15, "first connected")
            await asyncio.sleep(1.0)
            assert len(live.offers()) == 1  # two free remote agents, one trunk slot
            first = live.offers()[0].interaction_id
            second = next(
                iid
                for n in ("13900000031", "13900000032")
                if (iid := live.iid_of_caller(n)) is not None and iid != first
            )
            assert live.service.router.position(second) == 1
            # once the first call ends, the second crosses the trunk
            await wait_until(lambda: len(live.of(cmd.InteractionConnected)) == 2, 20, "second connected")
            first_done = live.of(cmd.InteractionFinished)[0].ended_at
            second_offer = live.offers()[1]
            assert second_offer.interaction_id == second
            assert second_offer.explanation.route == "node1->node2"
            assert next(t for t, c in live.commands if c is second_offer) >= first_done
        finally:
            kill_all(callers)


async def test_node2_killed_then_back(
    admins: list[AmiAdmin], nodes: list[SandboxSettings], tmp_path: Path
) -> None:
    try:
        await _node2_killed_then_back(nodes, tmp_path)
    finally:
        if not status(nodes[1]).running:  # never leave the next test without node 2
            await asyncio.to_thread(up, nodes[1])


async def _node2_killed_then_back(nodes: list[SandboxSettings], tmp_path: Path) -> None:
    async with make_live(nodes, tmp_path, drop_callers_after_s=2.0) as live:
        live.login("m11", "m21")
        on2 = await call(nodes[1], "30087", 30000, num="13900000041")  # en: nobody serves it
        await wait_until(lambda: live.iid_of_caller("13900000041") is not None, 10, "node-2 caller")
        await asyncio.to_thread(stop_node, nodes[1], kill=True)
        router = live.service.router
        await wait_until(lambda: router.agent_state("m21") is AgentState.UNAVAILABLE, 10, "m21 unavailable")
        assert router.agent_state("m11") is AgentState.READY
        on1 = await call(nodes[0], "30086", 20000, num="13900000042")
        try:
            await wait_until(lambda: bool(live.of(cmd.InteractionConnected)), 10, "node-1 caller served")
            assert live.of(cmd.InteractionConnected)[0].agent_id == "m11"
            iid2 = live.iid_of_caller("13900000041") or ""
            await wait_until(lambda: live.finished(iid2) is not None, 10, "node-2 caller recorded")
            assert live.finished(iid2).outcome is Outcome.PBX_DROPPED  # type: ignore[union-attr]
            assert router.agent_state("m21") is AgentState.UNAVAILABLE  # not paused, not logged out
            # node 1 finds the trunk to node 2 dead too (its qualify goes unanswered)
            down = ev.TrunkDown("node1", "node2")
            await wait_until(lambda: down in live.events_of(ev.TrunkDown), 15, "trunk down")
            # node 2 back: m21 takes calls again without logging in
            await asyncio.to_thread(up, nodes[1])
            await wait_until(lambda: router.agent_state("m21") is AgentState.READY, 20, "m21 back")
            back = await AmiAdmin(nodes[1]).connect()
            await back.sim_agent("m21", ring=1, talk=1)
            await back.close()
            on2b = await call(nodes[1], "30086", 20000, num="13900000043")
            await wait_until(
                lambda: any(
                    o.agent_id == "m21" and o.interaction_id == live.iid_of_caller("13900000043")
                    for o in live.offers()
                ),
                10,
                "m21 offered again",
            )
            kill_all([on2b])
            up_again = ev.TrunkUp("node1", "node2")
            await wait_until(lambda: up_again in live.events_of(ev.TrunkUp), 15, "trunk up")
        finally:
            kill_all([on1, on2])


async def test_a_call_across_the_trunk_ends_at_once_when_the_agents_node_dies(
    admins: list[AmiAdmin], nodes: list[SandboxSettings], tmp_path: Path
) -> None:
    try:
        async with make_live(nodes, tmp_path) as live:
            await admins[1].sim_agent("m21", ring=1, talk=60)
            live.login("m21")
            caller = await call(nodes[0], "30086", 60000, num="13900000071")
            try:
                await wait_until(
                    lambda: bool(live.of(cmd.InteractionConnected)), 15, "connected over the trunk"
                )
                iid = live.iid_of_caller("13900000071") or ""
                # SIGKILL: node 2 sends no BYE; without the router the caller's leg on node 1
                # would stay up until the 90 s session refresh
                await asyncio.to_thread(stop_node, nodes[1], kill=True)
                killed = time.monotonic()
                await wait_until(lambda: live.finished(iid) is not None, 10, "the call recorded")
                done = live.finished(iid)
                assert done is not None
                assert (done.agent_id, done.outcome, done.disposition) == ("m21", "answered", "pbx_dropped")
                await admins[0].wait_no_channels(5, match=lambda c: c.get("CallerIDNum") == "13900000071")
                await admins[0].wait_no_channels(5, match=lambda c: "ccr-trunk" in c.get("Channel", ""))
                assert time.monotonic() - killed < 10
                assert len(live.of(cmd.InteractionFinished)) == 1
            finally:
                kill_all([caller])
    finally:
        if not status(nodes[1]).running:
            await asyncio.to_thread(up, nodes[1])
