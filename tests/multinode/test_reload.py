"""Growing without a restart: node 2 added by a reload while node 1 carries a call, and
removed by one while it carries a call (drained)."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from cc_router.core import commands as cmd
from cc_router.sandbox import SandboxSettings
from cc_router.testing.live import AmiAdmin, LiveService, call, kill_all, wait_until
from cc_router.testing.multinode import nodes_config
from tests.multinode.conftest import CENTRE

pytestmark = [pytest.mark.asterisk, pytest.mark.asyncio]

ONE_NODE = """
skills: [zh]
agents: [{id: m11, pool: p1, skills: {zh: 5}}]
queues: [{name: mq_zh, requirement: zh, ring_timeout_s: 3, wrapup_s: 0}]
numbers: {"30086": {queue: mq_zh}}
"""


async def test_node2_added_by_a_reload_takes_calls(
    admins: list[AmiAdmin], nodes: list[SandboxSettings], tmp_path: Path
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'reload.db'}"
    async with LiveService(nodes_config(ONE_NODE, nodes[:1], store_url=url)) as live:
        await admins[0].sim_agent("m11", talk=5)
        live.login("m11")
        on1 = await call(nodes[0], "30086", 20000, num="13900000051")
        on2 = None
        try:
            await wait_until(lambda: bool(live.of(cmd.InteractionConnected)), 10, "node-1 call")
            live.reload(nodes_config(CENTRE, nodes, store_url=url))
            await wait_until(
                lambda: len(live.all_nodes) == 2 and all(n.ready for n in live.all_nodes), 15, "node 2 up"
            )
            live.login("m21")
            on2 = await call(nodes[1], "30086", 20000, num="13900000052")
            await wait_until(lambda: len(live.of(cmd.InteractionConnected)) == 2, 15, "node-2 call")
            assert [c.agent_id for c in live.of(cmd.InteractionConnected)] == ["m11", "m21"]
            # the call node 1 carried through the reload ends as it would have
            iid1 = live.iid_of_caller("13900000051") or ""
            await wait_until(lambda: live.finished(iid1) is not None, 15, "node-1 call ends")
            first = live.finished(iid1)
            assert first is not None
            assert (first.agent_id, first.outcome, first.disposition) == ("m11", "answered", "agent_hangup")
        finally:
            kill_all([on1] + ([on2] if on2 is not None else []))


async def test_node2_removed_by_a_reload_drains_its_call_and_takes_no_more(
    admins: list[AmiAdmin], nodes: list[SandboxSettings], tmp_path: Path
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'drain.db'}"
    async with LiveService(nodes_config(CENTRE, nodes, store_url=url)) as live:
        await admins[1].sim_agent("m21", ring=1, talk=6)
        live.login("m21")
        on2 = await call(nodes[1], "30086", 30000, num="13900000061")
        on1 = None
        try:
            await wait_until(lambda: bool(live.of(cmd.InteractionConnected)), 10, "node-2 call")
            iid2 = live.iid_of_caller("13900000061") or ""
            node2 = next(n for n in live.all_nodes if n.node == "node2")
            # node 2, its pool and its agents out of the config while it carries the call
            live.reload(nodes_config(ONE_NODE, nodes[:1], store_url=url))
            live.login("m11")
            await admins[0].sim_agent("m11", ring=1, talk=1)
            on1 = await call(nodes[0], "30086", 20000, num="13900000062")
            await wait_until(lambda: len(live.of(cmd.InteractionConnected)) == 2, 10, "node-1 call")
            assert [o.agent_id for o in live.offers()] == ["m21", "m11"]  # nothing more to node 2
            assert node2.ready  # draining: still connected while its call goes on
            await wait_until(lambda: live.finished(iid2) is not None, 15, "node-2 call ends")
            done = live.finished(iid2)
            assert done is not None
            assert (done.agent_id, done.outcome, done.disposition) == ("m21", "answered", "agent_hangup")
            await wait_until(lambda: node2 not in live.all_nodes and not node2.ready, 10, "node 2 let go")
            assert node2.on_commands not in live.service.sinks
            await live.writer.flush()
            rows = await stored_rows(url, iid2)
            assert rows == [("m21", "answered")]  # recorded once
        finally:
            kill_all([on2] + ([on1] if on1 is not None else []))


async def stored_rows(url: str, iid: str) -> list[tuple[str | None, str]]:
    engine = create_async_engine(url)
    async with engine.connect() as conn:
        query = sa.text("select agent_id, outcome from interactions where interaction_id = :iid")
        got = (await conn.execute(query, {"iid": iid})).all()
    await engine.dispose()
    return [(r[0], r[1]) for r in got]
