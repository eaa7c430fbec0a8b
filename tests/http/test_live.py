"""LiveView bookkeeping: periods roll over in local time, updates are coalesced."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from cc_router.core import events as ev
from cc_router.live import LiveView, service_level_pct
from tests.http.centre import FakeClock, load, make_service, write_centre

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI).timestamp()


def test_day_and_interval_roll_over_in_centre_time(tmp_path: Path) -> None:
    clock = FakeClock(_at("2027-01-23 23:50:00"))
    service = make_service(load(write_centre(tmp_path)), clock)
    live = LiveView.attach(service)
    assert LiveView.attach(service) is live
    service.submit(ev.InteractionArrived("c1", "billing"))
    q = live.queue("billing")
    assert q is not None and q["today"]["offered"] == 1 and q["interval"]["offered"] == 1
    clock.t = _at("2027-01-23 23:59:00")  # same interval (23:45-24:00), same day
    service.submit(ev.InteractionArrived("c2", "billing"))
    q = live.queue("billing")
    assert q is not None and q["today"]["offered"] == 2 and q["interval"]["offered"] == 2
    clock.t = _at("2027-01-24 00:00:01")  # local midnight: both reset, even without events
    q = live.queue("billing")
    assert q is not None and q["today"]["offered"] == 0 and q["interval"]["offered"] == 0
    assert q["total"]["offered"] == 2
    assert q["waiting"] == 2 and q["longest_wait_s"] == pytest.approx(601.0)


def test_exit_at_the_door_still_counts_as_offered(tmp_path: Path) -> None:
    path = write_centre(tmp_path)
    path.write_text(
        path.read_text().replace(
            'requirement: "sales"', 'requirement: "sales", max_length: 1, on_max_length: hangup'
        )
    )
    service = make_service(load(path))
    live = LiveView.attach(service)
    service.submit(ev.InteractionArrived("c1", "sales"))
    service.submit(ev.InteractionArrived("c2", "sales"))  # queue full: leaves at once
    q = live.queue("sales")
    assert q is not None and q["today"]["offered"] == 2 and q["today"]["exits"] == 1


def test_service_level_matches_reports_definition() -> None:
    assert service_level_pct(8, 9, 1) == 80.0
    assert service_level_pct(0, 0, 0) is None


@pytest.mark.asyncio
async def test_updates_are_coalesced(tmp_path: Path) -> None:
    service = make_service(load(write_centre(tmp_path)))
    live = LiveView.attach(service, max_updates_per_s=5)
    seen: list[int] = []

    async def consume() -> None:
        async for v in live.updates():
            seen.append(v)

    task = asyncio.create_task(consume())
    await asyncio.sleep(0)
    for i in range(50):
        service.submit(ev.InteractionArrived(f"c{i}", "billing"))
    await asyncio.sleep(0.05)
    for i in range(50, 60):
        service.submit(ev.InteractionArrived(f"c{i}", "billing"))
    await asyncio.sleep(0.3)
    task.cancel()
    assert seen[0] <= 50 and seen[-1] == live.version == 60
    assert len(seen) <= 3
