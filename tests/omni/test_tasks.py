"""Durable task intake, offers, accept/reject/complete/transfer and restart recovery."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from cc_router.config import Config
from cc_router.core import events as ev
from cc_router.omni.tasks import TaskError, TaskSubmission
from cc_router.store.omni_tables import tasks

from .conftest import Clock, login, start_omni, stop_omni


def chat(task_id: str | None = None, queue: str = "chat_zh", **kw: object) -> TaskSubmission:
    data: dict[str, object] = {
        "task_id": task_id,
        "channel": "chat",
        "queue": queue,
        "customer": "张伟",
        "subject": "话费",
        "body": "我的话费为什么这么高？",
        "attributes": {"lang": "zh", "order": 12},
    }
    data.update(kw)
    return TaskSubmission.model_validate(data)


async def rows(engine: AsyncEngine) -> dict[str, dict[str, object]]:
    async with engine.connect() as conn:
        return {r.task_id: dict(r._mapping) for r in await conn.execute(select(tasks))}


@pytest.mark.asyncio
async def test_task_is_stored_before_it_is_routed(config: Config, sqlite_engine: AsyncEngine) -> None:
    service, omni, run = await start_omni(config, sqlite_engine)
    seen_in_db: list[bool] = []

    def spy(event: ev.Event, at: float) -> None:
        if isinstance(event, ev.InteractionArrived):
            # A listener runs before the router: the row must already be committed.
            seen_in_db.append(event.interaction_id in committed)

    committed: set[str] = set()
    orig_insert = omni.store.insert

    async def insert(*a: object, **kw: object) -> bool:
        ok = await orig_insert(*a, **kw)  # type: ignore[arg-type]
        committed.add(str(a[0]))
        return ok

    omni.store.insert = insert  # type: ignore[method-assign]
    service.listeners.append(spy)
    try:
        task, created = await omni.intake.submit(chat("t1"), "http")
        assert created and task.task_id == "t1" and seen_in_db == [True]
        assert "t1" in service.router.interactions
        stored = (await rows(sqlite_engine))["t1"]
        assert stored["status"] == "queued" and stored["channel"] == "chat"
        assert stored["payload"]["attributes"] == {"lang": "zh", "order": "12"}  # type: ignore[index]
    finally:
        await stop_omni(run)


@pytest.mark.asyncio
async def test_bad_submissions_are_refused(config: Config, sqlite_engine: AsyncEngine) -> None:
    _service, omni, run = await start_omni(config, sqlite_engine)
    try:
        with pytest.raises(TaskError, match="unknown queue") as e:
            await omni.intake.submit(chat(queue="nope"), "http")
        assert e.value.status == 422
        with pytest.raises(TaskError, match="takes email, not chat"):
            await omni.intake.submit(chat(queue="email_service"), "http")
        with pytest.raises(TaskError, match="not a task channel"):
            await omni.intake.submit(chat(channel="voice", queue="voice_zh"), "http")
        assert await rows(sqlite_engine) == {}
    finally:
        await stop_omni(run)


@pytest.mark.asyncio
async def test_identical_retry_is_idempotent_and_conflict_is_409(
    config: Config, sqlite_engine: AsyncEngine
) -> None:
    _service, omni, run = await start_omni(config, sqlite_engine)
    try:
        _, created = await omni.intake.submit(chat("dup"), "http")
        again, created2 = await omni.intake.submit(chat("dup"), "http")
        assert created and not created2 and again.task_id == "dup"
        with pytest.raises(TaskError) as e:
            await omni.intake.submit(chat("dup", body="other"), "http")
        assert e.value.status == 409
    finally:
        await stop_omni(run)


@pytest.mark.asyncio
async def test_offer_accept_complete_lifecycle(config: Config, sqlite_engine: AsyncEngine) -> None:
    clock = Clock()
    service, omni, run = await start_omni(config, sqlite_engine, clock)
    try:
        login(service, "a1")
        await omni.intake.submit(chat("t1"), "http")
        [offer] = omni.board.pending("a1")
        assert offer.task_id == "t1" and offer.channel == "chat" and offer.timeout_s == 30
        assert offer.task["customer"] == "张伟" and offer.task["body"] == "我的话费为什么这么高？"
        with pytest.raises(TaskError, match="not offered to agent a2"):
            omni.intake.accept("t1", "a2")
        omni.intake.accept("t1", "a1")
        assert omni.board.pending("a1") == []
        with pytest.raises(TaskError) as e:
            omni.intake.accept("t1", "a1")
        assert e.value.status == 409
        await omni.store.flush()
        r = (await rows(sqlite_engine))["t1"]
        assert r["status"] == "connected" and r["agent_id"] == "a1"
        clock.t += 60
        omni.intake.complete("t1", "a1", "resolved")
        await omni.store.flush()
        r = (await rows(sqlite_engine))["t1"]
        assert r["status"] == "completed" and r["disposition"] == "resolved" and r["finished_at"] is not None
        with pytest.raises(TaskError) as e:
            omni.intake.complete("t1", "a1", "again")
        assert e.value.status == 404
    finally:
        await stop_omni(run)


@pytest.mark.asyncio
async def test_reject_returns_task_to_its_place_and_offers_elsewhere(
    config: Config, sqlite_engine: AsyncEngine
) -> None:
    clock = Clock()
    service, omni, run = await start_omni(config, sqlite_engine, clock)
    try:
        login(service, "a1")
        await omni.intake.submit(chat("first"), "http")
        clock.t += 1
        await omni.intake.submit(chat("second"), "http")
        # a1 holds one offer at a time; "second" waits behind "first".
        assert [o.task_id for o in omni.board.pending("a1")] == ["first"]
        omni.intake.reject("first", "a1")
        # "first" is excluded for a1 for a while, so a1 gets "second" now...
        assert [o.task_id for o in omni.board.pending("a1")] == ["second"]
        login(service, "a2")
        # ...and "first" went back to the head of the queue: the next free agent gets it.
        assert [o.task_id for o in omni.board.pending("a2")] == ["first"]
        await omni.store.flush()
        assert (await rows(sqlite_engine))["first"]["agent_id"] == "a2"
    finally:
        await stop_omni(run)


@pytest.mark.asyncio
async def test_offer_times_out_and_returns(config: Config, sqlite_engine: AsyncEngine) -> None:
    clock = Clock()
    service, omni, run = await start_omni(config, sqlite_engine, clock)
    closed: list[tuple[str, str]] = []
    omni.board.listeners.append(
        lambda kind, o, why: closed.append((o.task_id, why)) if kind == "closed" else None
    )
    try:
        login(service, "a1")
        await omni.intake.submit(chat("t1"), "http")
        clock.t += 30 + 2 + 0.1  # ring_timeout_s + offer_grace_s
        service.submit(ev.Tick())
        assert closed == [("t1", "timeout")]
        assert omni.board.pending("a1") == []
        it = service.router.interactions["t1"]
        assert it.stage.value == "waiting" and it.misses == 1
        await omni.store.flush()
        assert (await rows(sqlite_engine))["t1"]["status"] == "queued"
    finally:
        await stop_omni(run)


@pytest.mark.asyncio
async def test_transfer_to_queue(config: Config, sqlite_engine: AsyncEngine) -> None:
    service, omni, run = await start_omni(config, sqlite_engine)
    try:
        login(service, "a1")
        await omni.intake.submit(chat("t1"), "http")
        omni.intake.accept("t1", "a1")
        with pytest.raises(TaskError, match="takes email"):
            omni.intake.transfer("t1", "email_service")
        with pytest.raises(TaskError, match="unknown queue"):
            omni.intake.transfer("t1", "nope")
        with pytest.raises(TaskError, match="not being handled by agent a2"):
            omni.intake.transfer("t1", "chat_vip", agent_id="a2")
        omni.intake.transfer("t1", "chat_vip", agent_id="a1")
        # a1 is free again and qualifies for chat_vip: the task comes straight back as a new offer.
        [offer] = omni.board.pending("a1")
        assert offer.queue == "chat_vip"
        await omni.store.flush()
        r = (await rows(sqlite_engine))["t1"]
        assert r["queue"] == "chat_vip" and r["status"] == "offered"
    finally:
        await stop_omni(run)


@pytest.mark.asyncio
async def test_transfer_to_a_named_agent(config: Config, sqlite_engine: AsyncEngine) -> None:
    service, omni, run = await start_omni(config, sqlite_engine)
    try:
        login(service, "a1")
        await omni.intake.submit(chat("t1"), "http")
        omni.intake.accept("t1", "a1")
        with pytest.raises(TaskError, match="unknown agent"):
            omni.intake.transfer("t1", "chat_zh", to_agent="ghost")
        omni.intake.transfer("t1", "chat_zh", agent_id="a1", to_agent="a2")
        # a1 qualifies and is free, but the task now waits for a2 alone.
        assert omni.board.pending("a1") == []
        assert service.router.interactions["t1"].target_agent == "a2"
        login(service, "a2")
        [offer] = omni.board.pending("a2")
        assert offer.queue == "chat_zh"
    finally:
        await stop_omni(run)


@pytest.mark.asyncio
async def test_restart_routes_unfinished_tasks_again(config: Config, sqlite_engine: AsyncEngine) -> None:
    service, omni, run = await start_omni(config, sqlite_engine)
    login(service, "a1")
    for i in range(4):
        await omni.intake.submit(chat(f"t{i}"), "http")
    omni.intake.accept("t0", "a1")
    omni.intake.complete("t0", "a1", "done")
    omni.intake.accept("t1", "a1")  # connected when the service stops
    await stop_omni(run)  # flushes status updates on the way out

    service2, omni2, run2 = await start_omni(config, sqlite_engine)
    try:
        assert omni2.component.resumed == 3
        assert sorted(service2.router.interactions) == ["t1", "t2", "t3"]
        login(service2, "a1")
        assert [o.task_id for o in omni2.board.pending("a1")] == ["t1"]  # oldest first
        # The original submission comes back in the offer.
        assert omni2.board.pending("a1")[0].task["customer"] == "张伟"
    finally:
        await stop_omni(run2)


@pytest.mark.asyncio
async def test_store_down_means_not_accepted(config: Config, sqlite_engine: AsyncEngine) -> None:
    service, omni, run = await start_omni(config, sqlite_engine)
    try:

        async def broken(*a: object, **kw: object) -> bool:
            raise OSError("disk on fire")

        omni.store.insert = broken  # type: ignore[method-assign]
        with pytest.raises(TaskError) as e:
            await omni.intake.submit(chat("t1"), "http")
        assert e.value.status == 503
        assert "t1" not in service.router.interactions
    finally:
        await stop_omni(run)
