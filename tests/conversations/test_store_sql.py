"""The conversation store's statements on both databases: a chat start (on PostgreSQL one
statement with a CTE) and a transcript read with its attachments' links in one SELECT."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from cc_router.conversations.store import Attachment, ConversationStore
from tests.databases import migrated_store

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    async with migrated_store(request.param, tmp_path, "conv") as eng:
        yield eng


def statements(engine: AsyncEngine) -> list[str]:
    seen: list[str] = []
    event.listen(engine.sync_engine, "before_cursor_execute", lambda *a: seen.append(a[2]))
    return seen


async def test_a_start_and_its_transcript(engine: AsyncEngine) -> None:
    store = ConversationStore(engine)
    sent = statements(engine)
    conv = await store.create(
        "chat-1", "chat", "chat_billing", "王芳", subject="账单", token="tok", task_id="chat-t1", first="你好"
    )
    if engine.dialect.name == "postgresql":
        assert len(sent) == 1 and sent[0].lstrip().startswith("WITH new_conv AS")
    await store.add_message(
        "chat-1",
        "in",
        "customer",
        "两个附件",
        attachments=[
            Attachment("订单.pdf", "application/pdf", b"%PDF"),
            Attachment("a.txt", "text/plain", b"x"),
        ],
    )
    await store.add_message("chat-1", "out", "a1", "收到", task_id="chat-t1")

    sent.clear()
    found, msgs = await store.with_messages("chat-1")
    assert len(sent) == 1  # conversation, messages and attachments together
    assert (
        found is not None and found.id == conv.id and found.customer == "王芳" and found.task_id == "chat-t1"
    )
    assert [(m.direction, m.author, m.body) for m in msgs] == [
        ("in", "customer", "你好"),
        ("in", "customer", "两个附件"),
        ("out", "a1", "收到"),
    ]
    assert msgs[0].task_id == "chat-t1" and msgs[0].created_at.tzinfo is not None
    assert [a["filename"] for a in msgs[1].attachments] == ["订单.pdf", "a.txt"]
    assert msgs[1].attachments[0]["url"].startswith("/api/conversations/chat-1/attachments/")
    assert msgs[0].attachments == () and msgs[2].attachments == ()
    # The same by its task, and the plain list.
    by_task = await store.task_with_messages("chat-t1")
    assert by_task[0] is not None and by_task[1] == msgs
    assert await store.messages("chat-1") == msgs
    att = await store.attachment("chat-1", int(msgs[1].attachments[1]["id"]))
    assert att is not None and att.data == b"x"
    assert (await store.by_token("tok")) is not None


async def test_a_conversation_without_messages_and_an_unknown_one(engine: AsyncEngine) -> None:
    store = ConversationStore(engine)
    await store.create("email-1", "email", "email_service", "a@example.test", thread_key="a@example.test")
    found, msgs = await store.with_messages("email-1")
    assert found is not None and found.channel == "email" and msgs == []
    assert await store.with_messages("nope") == (None, [])
