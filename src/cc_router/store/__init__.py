"""SQL store: interactions, agent states and routing decisions, plus 15-minute report rows.

The router never waits on it: `StoreWriter.submit` only appends to memory, a background
task writes batches.
"""

from __future__ import annotations

from cc_router.store.migrations import migrate
from cc_router.store.reports import write_intervals
from cc_router.store.writer import StoreWriter, bench_store

__all__ = ["StoreWriter", "bench_store", "migrate", "write_intervals"]
