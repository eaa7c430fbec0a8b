"""Retention: conversations idle past `retention_days` go with their messages and
attachments; one still routed stays whatever its age."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select

from cc_router.conversations.store import Attachment
from cc_router.conversations.tables import conversations, message_attachments, messages

from .conftest import AUTH, Running

pytestmark = pytest.mark.asyncio


async def test_purge_removes_old_closed_threads_not_routed_ones(
    chat_centre: tuple[httpx.AsyncClient, Running],
) -> None:
    client, run = chat_centre
    store = run.conv.hub.store
    old = (await client.post("/chat/api/start", json={"topic": "billing", "text": "旧的"})).json()
    live = (await client.post("/chat/api/start", json={"topic": "billing", "text": "还在等"})).json()
    conv = await store.get(old["conversation_id"])
    assert conv is not None
    await store.add_message(
        conv.id, "in", "customer", "附件", attachments=[Attachment("a.txt", "text/plain", b"x")]
    )
    run.login("a1")
    await client.post(f"/api/tasks/{conv.task_id}/accept", json={"agent_id": "a1"}, headers=AUTH)
    await client.post(f"/api/tasks/{conv.task_id}/complete", json={"agent_id": "a1"}, headers=AUTH)
    await run.conv.hub.drain()

    later = datetime.now(UTC) + timedelta(days=run.conv.hub.settings.retention_days + 1)
    assert await store.purge(run.conv.hub.settings.retention_days) == 0  # nothing old yet
    assert await store.purge(run.conv.hub.settings.retention_days, now=later) == 1
    async with run.omni.engine.connect() as c:
        ids = [r.id for r in await c.execute(select(conversations.c.id))]
        left = (await c.execute(select(func.count()).select_from(messages))).scalar_one()
        files = (await c.execute(select(func.count()).select_from(message_attachments))).scalar_one()
    assert ids == [live["conversation_id"]]
    assert left == 1 and files == 0
