"""The service's own interval job: rows appear without anyone running `cc-router report`."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cc_router.store import StoreWriter, migrate
from cc_router.store.interval_job import IntervalReporter
from cc_router.store.reports import read_queue_intervals

from .factories import T0, finished


def test_runs_just_after_each_boundary() -> None:
    job = IntervalReporter(writer=None, service_levels={}, lag_s=30)  # type: ignore[arg-type]
    assert job.next_run_at(T0 + 10) == T0 + 30
    assert job.next_run_at(T0 + 31) == T0 + 900 + 30
    assert job.next_run_at(T0 - 1) == T0 + 30


@pytest.mark.asyncio
async def test_writes_the_window_idempotently(sqlite_url: str) -> None:
    await migrate(sqlite_url)
    writer = StoreWriter(sqlite_url)
    writer.submit(
        [
            finished("c1", wait_s=5, enqueued_at=T0 + 60),
            finished("c2", wait_s=40, enqueued_at=T0 + 120),
            finished("c3", outcome="abandoned", wait_s=50, enqueued_at=T0 + 180),
        ],
        T0 + 300,
    )
    clock = [T0 + 930.0]
    job = IntervalReporter(writer, {"billing_zh": 20.0}, clock=lambda: clock[0])
    await job.run_once()  # flushes the writer's buffer first
    await job.run_once()
    lo = datetime.fromtimestamp(T0, tz=UTC)
    hi = datetime.fromtimestamp(T0 + 900, tz=UTC)
    async with writer.engine.connect() as conn:
        rows = await read_queue_intervals(conn, lo, hi)
    assert len(rows) == 1
    row = rows[0]
    assert (row["offered"], row["answered"], row["abandoned"], row["answered_within_sl"]) == (3, 2, 1, 1)
    assert row["sl_pct"] == pytest.approx(100 * 1 / 3)
    await writer.close()
