"""Chat starts under load hold the conversations' SQL pool briefly: a burst of starts
through a pool of three connections completes, each start checking out a connection no
more than twice (its conversation, then its task), and nothing is left checked out."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import create_async_engine

from cc_router.conversations.tables import conversations, messages
from cc_router.store.omni_tables import tasks
from tests.databases import PG_URL, scratch_schema

from .conftest import CHAT, centre_config, running

pytestmark = [pytest.mark.asyncio, pytest.mark.postgres]

STARTS = 150
MANY = CHAT.replace("messages_per_minute: 6", "messages_per_minute: 6\n    starts_per_minute: 100000")


async def test_a_burst_of_starts_through_a_small_pool_completes() -> None:
    async with scratch_schema("ccr_conv_pool") as schema:
        engine = create_async_engine(
            PG_URL,
            pool_size=3,
            max_overflow=0,
            # Short: a start that waits this long for a connection fails the test.
            pool_timeout=5,
            connect_args={"server_settings": {"search_path": schema}},
        )
        try:
            async with running(centre_config(MANY), engine) as run:
                assert run.http is not None
                checkouts = 0

                def counted(*_: Any) -> None:
                    nonlocal checkouts
                    checkouts += 1

                event.listen(engine.sync_engine, "checkout", counted)
                transport = httpx.ASGITransport(app=run.http.app)
                async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:

                    async def start(n: int) -> int:
                        r = await client.post(
                            "/chat/api/start", json={"topic": "billing", "text": f"第{n}个问题"}
                        )
                        return r.status_code

                    codes = await asyncio.gather(*(start(n) for n in range(STARTS)))
                event.remove(engine.sync_engine, "checkout", counted)
                assert codes == [201] * STARTS
                # Before: five each (conversation, first message, task id, task, re-read).
                # A few to spare for the service's own work meanwhile.
                assert checkouts <= 2 * STARTS + 10, checkouts
                await run.conv.hub.drain()
                pool: Any = engine.sync_engine.pool
                for _ in range(100):  # the task store's writer may be flushing its batch
                    if pool.checkedout() == 0:
                        break
                    await asyncio.sleep(0.05)
                assert pool.checkedout() == 0
                async with engine.connect() as c:
                    convs = (await c.execute(select(func.count()).select_from(conversations))).scalar()
                    with_task = (
                        await c.execute(
                            select(func.count())
                            .select_from(conversations)
                            .where(conversations.c.task_id.is_not(None))
                        )
                    ).scalar()
                    msgs = (await c.execute(select(func.count()).select_from(messages))).scalar()
                    routed = (await c.execute(select(func.count()).select_from(tasks))).scalar()
                assert (convs, with_task, msgs, routed) == (STARTS, STARTS, STARTS, STARTS)
                assert len(run.conv.hub.by_task) == STARTS
        finally:
            await engine.dispose()
