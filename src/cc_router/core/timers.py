"""The core's timers: one heap, ordered by due time, then by when each was set."""

from __future__ import annotations

import heapq
from dataclasses import dataclass

from cc_router.core.vocabulary import TimerKind


@dataclass(slots=True, eq=False)
class Timer:
    kind: TimerKind
    ref: str
    """The offer id, interaction id or agent id the timer is about."""
    guard: int = 0
    """The counter `ref` had when the timer was set: a timer that no longer applies
    (the interaction re-joined, the pause ended) is told by a different value."""
    interaction_id: str = ""
    """The wrap-up a `WRAP` timer ends (`ref` is then the agent)."""


TimerEntry = tuple[float, int, Timer]
"""(due, seq, timer): tuples compare in C, and `seq` is unique, so timers never do."""


class TimerHeap:
    __slots__ = ("entries",)

    def __init__(self) -> None:
        self.entries: list[TimerEntry] = []

    def push(self, due: float, seq: int, timer: Timer) -> None:
        """`seq` comes from the router's one counter, which also orders arrivals."""
        heapq.heappush(self.entries, (due, seq, timer))

    def next_at(self) -> float | None:
        return self.entries[0][0] if self.entries else None

    def pop_due(self, now: float) -> TimerEntry | None:
        """The earliest timer due at `now` or before, taken off the heap."""
        entries = self.entries
        if entries and entries[0][0] <= now:
            return heapq.heappop(entries)
        return None

    def drop(self, kinds: frozenset[TimerKind]) -> None:
        self.entries = [e for e in self.entries if e[2].kind not in kinds]
        heapq.heapify(self.entries)
