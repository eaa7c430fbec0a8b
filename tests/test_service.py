"""The service's ticker fires core timers on time, also ones an event just brought forward."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from cc_router.core import Router
from cc_router.core import commands as cmd
from cc_router.core import events as ev
from cc_router.core.spec import AgentSpec, QueueSpec, RoutingSpec
from cc_router.service import Service

from .core.centres import centre


@pytest.mark.asyncio
async def test_offer_timeout_fires_without_any_other_event() -> None:
    spec = centre(
        [AgentSpec("a", skills={"zh": 1})],
        [QueueSpec("q", requirement="zh", ring_timeout_s=0.3)],
        RoutingSpec(offer_grace_s=0.0, miss_exclusion_s=60),
    )
    service = Service(config=None, router=Router(spec))  # type: ignore[arg-type]
    seen: list[Any] = []
    service.sinks.append(lambda out, now: seen.extend(out))
    ticker = asyncio.create_task(service.tick_forever(max_sleep_s=5.0))
    try:
        await asyncio.sleep(0.05)  # the ticker is asleep for up to 5 s now
        service.submit(ev.AgentLoggedIn("a"))
        service.submit(ev.InteractionArrived("x", "q"))
        async with asyncio.timeout(3):
            while not any(isinstance(c, cmd.CancelOffer) for c in seen):
                await asyncio.sleep(0.02)
    finally:
        ticker.cancel()
    (cancel,) = [c for c in seen if isinstance(c, cmd.CancelOffer)]
    assert cancel.reason == "timeout"


def test_timers_in_one_grid_slot_share_a_tick() -> None:
    from cc_router.service import TICK_GRAIN_S, tick_at

    assert tick_at(10.01) == tick_at(10.04) == pytest.approx(10.05)
    assert tick_at(10.06) == pytest.approx(10.10)
    # Never before the timer is due, whatever the rounding.
    for due in (0.15, 3 * TICK_GRAIN_S, 1e9 + 0.049999, 1764680000.123456):
        assert due <= tick_at(due) < due + TICK_GRAIN_S + 1e-6


def test_a_marked_sink_or_listener_is_told_only_what_it_handles() -> None:
    from cc_router.service import handles

    spec = centre([AgentSpec("a", skills={"zh": 1})], [QueueSpec("q", requirement="zh")])
    service = Service(config=None, router=Router(spec))  # type: ignore[arg-type]
    offers: list[list[cmd.Command]] = []
    everything: list[list[cmd.Command]] = []
    arrivals: list[ev.Event] = []
    heard: list[ev.Event] = []
    service.sinks.append(handles(cmd.Offer)(lambda out, now: offers.append(list(out))))
    service.sinks.append(lambda out, now: everything.append(list(out)))
    service.listeners.append(handles(ev.InteractionArrived)(lambda e, now: arrivals.append(e)))
    service.listeners.append(lambda e, now: heard.append(e))
    service.submit(ev.AgentLoggedIn("a"), 1000.0)  # an agent state change, no offer
    service.submit(ev.InteractionArrived("x", "q"), 1001.0)  # offered to a
    service.submit(ev.Tick(), 1001.5)  # nothing due: no commands, no sink called
    assert len(everything) == 2 and len(heard) == 3
    [batch] = offers  # the arrival's whole batch, as an unmarked sink gets it
    assert batch == everything[1] and any(isinstance(c, cmd.Offer) for c in batch)
    assert arrivals == [ev.InteractionArrived("x", "q")]
