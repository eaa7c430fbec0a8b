"""Callbacks written as the core decides them, and put back at their place after a
restart (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from cc_router.core import Router
from cc_router.core import commands as cmd
from cc_router.core import events as ev
from cc_router.core.callbacks import CallbackPolicy
from cc_router.core.spec import AgentSpec, CentreSpec, ProfileSpec, QueueSpec, RoutingSpec
from cc_router.core.vocabulary import CallbackResult, Stage
from cc_router.store.callbacks import CallbackStore
from cc_router.testing.live import wait_until
from cc_router.waiting.recorder import CallbackRecorder, Customer

T0 = 1_800_000_000.0
CENTRE = CentreSpec(
    skills=frozenset({"zh"}),
    profiles={"voice": ProfileSpec("voice")},
    agents=(AgentSpec("a1", skills={"zh": 1}),),
    queues=(
        QueueSpec(
            "q",
            requirement="zh",
            callback=CallbackPolicy(attempts=3, gap_s=120, window_start_s=0, window_end_s=0, offer_after_s=5),
        ),
    ),
    routing=RoutingSpec(timezone="Asia/Shanghai"),
)


def customer(iid: str) -> Customer | None:
    return Customer("13800138000", "张伟", "ast1") if iid == "cb" else None


class Fed:
    """A router whose commands go to a recorder, as the service's sinks would."""

    def __init__(self, recorder: CallbackRecorder) -> None:
        self.router = Router(CENTRE)
        self.recorder = recorder

    def __call__(self, e: ev.Event, now: float) -> Sequence[cmd.Command]:
        out = self.router.handle(e, now)
        self.recorder.sink(out, now)
        return out


@pytest.mark.asyncio
async def test_a_callback_survives_a_restart_at_its_place_with_its_attempts(engine: AsyncEngine) -> None:
    rec = CallbackRecorder(CallbackStore(engine), customer)
    told: list[str] = []
    rec.on_stored.append(told.append)
    feed = Fed(rec)
    feed(ev.InteractionArrived("first", "q"), T0)
    feed(ev.InteractionArrived("cb", "q", priority=2), T0 + 1)
    feed(ev.CallbackRequested("cb"), T0 + 10)
    assert told == []  # the caller is thanked only once the request is written
    task = asyncio.create_task(rec.run())
    try:
        await wait_until(lambda: told == ["cb"], 5, "request stored")
        feed(ev.AgentLoggedIn("a1"), T0 + 20)
        feed(ev.OfferAccepted("cb", "a1"), T0 + 21)
        feed(ev.CallbackAttemptEnded("cb", CallbackResult.NO_ANSWER), T0 + 40)
        await wait_until(lambda: rec.written == 3, 5, "attempt stored")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert await CallbackStore(engine).attempts("cb") == [(1, "a1", "no_answer")]

    # The router stops; another starts, with a caller who came later.
    again = CallbackRecorder(CallbackStore(engine), lambda iid: None)
    restored = await again.restore_events(T0 + 100)
    assert [(row.number, row.caller_name, row.node) for row, _ in restored] == [
        ("13800138000", "张伟", "ast1")
    ]
    r = Router(CENTRE)
    r.handle(ev.InteractionArrived("later", "q"), T0 + 90)
    for _, e in restored:
        assert (e.since, e.priority, e.attempts) == (T0 + 1, 2, 1)
        r.handle(e, T0 + 100)
    # not before the gap after its last attempt (T0 + 40 + 120), then at its old place
    assert r.interactions["cb"].stage is Stage.SCHEDULED
    r.handle(ev.Tick(), T0 + 160)
    assert [i.id for i in r.waiting_in("q")] == ["cb", "later"]


@pytest.mark.asyncio
async def test_an_attempt_cut_by_a_restart_counts_as_failed(engine: AsyncEngine) -> None:
    rec = CallbackRecorder(CallbackStore(engine), customer)
    feed = Fed(rec)
    feed(ev.InteractionArrived("cb", "q"), T0)
    feed(ev.CallbackRequested("cb"), T0 + 10)
    feed(ev.AgentLoggedIn("a1"), T0 + 20)
    feed(ev.OfferAccepted("cb", "a1"), T0 + 21)  # dialling when the router dies
    task = asyncio.create_task(rec.run())
    try:
        await wait_until(lambda: rec.written == 2, 5, "attempt started")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    restored = await CallbackRecorder(CallbackStore(engine), customer).restore_events(T0 + 30)
    assert [e.attempts for _, e in restored] == [1]
    assert await CallbackStore(engine).attempts("cb") == [(1, "a1", "failed")]
    [row] = await CallbackStore(engine).open_callbacks()
    assert row.status == "waiting"


@pytest.mark.asyncio
async def test_a_cancelled_or_connected_callback_is_not_restored(engine: AsyncEngine) -> None:
    rec = CallbackRecorder(CallbackStore(engine), customer)
    feed = Fed(rec)
    feed(ev.InteractionArrived("cb", "q"), T0)
    feed(ev.CallbackRequested("cb"), T0 + 10)
    feed(ev.InteractionAbandoned("cb"), T0 + 11)  # e.g. cancelled before any attempt
    task = asyncio.create_task(rec.run())
    try:
        await wait_until(lambda: rec.written == 2, 5, "cancel stored")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert await CallbackRecorder(CallbackStore(engine), customer).restore_events(T0 + 30) == []
