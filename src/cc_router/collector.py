"""How the router's process uses Python's cyclic garbage collector.

Once the centre is built, everything alive is collected once and frozen: never scanned
again (frozen objects are still freed by reference counting when they die), so a
collection only looks at what was made since.

Full collections are then held back (`FULL_EVERY` middle collections, ten times
CPython's default; CPython also waits until the objects that survived since the last
full one reach a quarter of those it kept then): at 20,000 agents one took 60 ms and
more of a core benchmark event, against a few milliseconds for a middle one.

Young and middle collections run more often than CPython's defaults (700, 10), so each
scans less: a collection's pause is the number of tracked objects it walks, and the
router keeps most of what it makes for a while (heap entries, offers, interactions), so
a middle collection walked 20,000-30,000 objects at 20,000 agents and took 8-12 ms, the
core benchmark's longest events. At (400, 5) a middle collection takes about 3 ms and
the collector's total time per event is no higher (core benchmark, `gc_max_pause_ms`).
Raising the young threshold was measured and is worse: the threshold counts allocations
minus deallocations, and the router frees old objects about as fast as it makes new
ones, so at 5,000 the young generation held 20,000-30,000 objects when it was collected.
"""

from __future__ import annotations

import gc

YOUNG = 400
"""Net allocations of tracked objects per young collection (CPython's default: 700)."""
MIDDLE = 5
"""Young collections per middle one (CPython's default: 10)."""
FULL_EVERY = 100
"""Middle collections per full one, at most (CPython's default: 10)."""


def settle() -> tuple[int, int, int]:
    """Collect and freeze what exists now, set the thresholds above; returns the
    thresholds that were in force, for a caller that restores them (benchmarks)."""
    before = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG, MIDDLE, FULL_EVERY)
    return before
