"""The service writes the 15-minute report rows itself, shortly after each interval closes.

An interaction is counted in the interval it entered the queue, but it may finish an hour
later, so each run recomputes a look-back window; `write_intervals` is idempotent, so
re-running over the same period yields the same rows.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

import structlog

from cc_router.core.reporting import INTERVAL_S
from cc_router.store.reports import write_intervals
from cc_router.store.writer import StoreWriter

log = structlog.get_logger("cc_router.store.intervals")


@dataclass
class IntervalReporter:
    writer: StoreWriter
    service_levels: Mapping[str, float]
    lookback_s: float = 2 * 3600.0
    lag_s: float = 30.0
    """Wait this long after a boundary so rows still in the writer's buffer land first."""
    clock: Callable[[], float] = time.time
    name: str = "interval-reports"
    runs: int = field(default=0, init=False)

    def next_run_at(self, now: float) -> float:
        boundary = (now - self.lag_s) // INTERVAL_S * INTERVAL_S + INTERVAL_S
        return boundary + self.lag_s

    async def run_once(self) -> None:
        now = self.clock()
        end = datetime.fromtimestamp(now, tz=UTC)
        start = datetime.fromtimestamp(now - self.lookback_s, tz=UTC)
        try:
            await self.writer.flush()
        except Exception as exc:  # the writer keeps its rows and retries on its own
            log.warning("interval_report_flush_failed", error=str(exc))
        summary = await write_intervals(self.writer.engine, start, end, self.service_levels, now=end)
        self.runs += 1
        log.info(
            "interval_report_written",
            start=summary.start.isoformat(),
            end=summary.end.isoformat(),
            queue_rows=summary.queue_rows,
            agent_rows=summary.agent_rows,
        )

    async def run(self) -> None:
        while True:
            await asyncio.sleep(max(0.0, self.next_run_at(self.clock()) - self.clock()))
            try:
                await self.run_once()
            except Exception as exc:
                # Reports are rebuilt from the stored rows next time; routing never waits on them.
                log.warning("interval_report_failed", error=f"{type(exc).__name__}: {exc}")
