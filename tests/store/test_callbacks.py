"""Callbacks in SQL on SQLite and PostgreSQL: open ones survive, attempts are on record."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from cc_router.store.callbacks import CallbackStore, StoredCallback

T0 = datetime(2027, 1, 25, 2, 0, tzinfo=UTC)


def request(cid: str, since: datetime, priority: int = 0) -> StoredCallback:
    return StoredCallback(
        callback_id=cid,
        interaction_id=f"call-{cid}",
        queue="general_zh",
        priority=priority,
        since=since,
        number="13800138000",
        caller_name="张伟",
        node="ast1",
        status="waiting",
        attempts=0,
        next_attempt_at=None,
    )


@pytest.mark.asyncio
async def test_open_callbacks_come_back_oldest_first_with_their_place(engine: AsyncEngine) -> None:
    store = CallbackStore(engine)
    await store.add(request("b", T0 + timedelta(seconds=30), priority=2), T0 + timedelta(seconds=90))
    await store.add(request("a", T0), T0 + timedelta(seconds=60))
    await store.add(request("c", T0 + timedelta(seconds=40)), T0 + timedelta(seconds=95))
    await store.attempt_started("c", 1, "1001", T0 + timedelta(seconds=100))
    await store.attempt_ended("c", 1, "answered", T0 + timedelta(seconds=130), status="connected")
    got = await store.open_callbacks()
    assert [(c.callback_id, c.priority, c.since) for c in got] == [
        ("a", 0, T0),
        ("b", 2, T0 + timedelta(seconds=30)),
    ]
    assert got[1].caller_name == "张伟" and got[1].node == "ast1"


@pytest.mark.asyncio
async def test_each_attempt_and_its_result_is_recorded(engine: AsyncEngine) -> None:
    store = CallbackStore(engine)
    await store.add(request("x", T0), T0)
    retry = T0 + timedelta(minutes=15)
    await store.attempt_started("x", 1, "1001", T0 + timedelta(minutes=4))
    await store.attempt_ended(
        "x", 1, "no_answer", T0 + timedelta(minutes=5), status="waiting", next_attempt_at=retry
    )
    (open_one,) = await store.open_callbacks()
    assert open_one.attempts == 1 and open_one.next_attempt_at == retry and open_one.status == "waiting"
    await store.attempt_started("x", 2, "1002", retry)
    (dialling,) = await store.open_callbacks()
    assert dialling.status == "dialling"  # a restart now would route it again, not lose it
    await store.attempt_ended("x", 2, "busy", retry + timedelta(seconds=20), status="failed")
    assert await store.open_callbacks() == []
    assert await store.attempts("x") == [(1, "1001", "no_answer"), (2, "1002", "busy")]
