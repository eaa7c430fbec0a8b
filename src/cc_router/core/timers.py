"""The core's timers: entries of one heap, ordered by due time, then by when each was set."""

from __future__ import annotations

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
