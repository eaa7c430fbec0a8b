"""How the router's process uses Python's cyclic garbage collector.

Once the centre is built, everything alive is collected once and frozen: never scanned
again (frozen objects are still freed by reference counting when they die), so a
collection only looks at what was made since.

Full collections are then held back (`FULL_EVERY` middle collections, ten times
CPython's default; CPython also waits until the objects that survived since the last
full one reach a quarter of those it kept then): at 20,000 agents one took 60 ms and
more of a core benchmark event, against a few milliseconds for a middle one.

Young collections keep CPython's threshold. Raising it was measured and is worse: the
threshold counts allocations minus deallocations, and the router frees old objects
(stale heap entries, finished interactions) about as fast as it makes new ones, so at
5,000 the young generation held 20,000-30,000 objects when it was collected and each
collection took 12-27 ms instead of 3-4.
"""

from __future__ import annotations

import gc

FULL_EVERY = 100
"""Middle collections per full one, at most (CPython's default: 10)."""


def settle() -> tuple[int, int, int]:
    """Collect and freeze what exists now and hold back full collections; returns the
    thresholds that were in force, for a caller that restores them (benchmarks)."""
    before = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(before[0], before[1], FULL_EVERY)
    return before
