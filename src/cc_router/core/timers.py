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


TimerEntry = tuple[float, int, int, str, int, str]
"""(due, seq, kind code, ref, guard, interaction id): tuples compare in C, and `seq` is
unique, so the rest never is. Only numbers and plain strings, not the `Timer`: the cyclic
collector untracks such a tuple the first time it sees it, whereas a tuple holding an
object (or an enum member) stays tracked. Thousands of timers are pending at 20,000
agents; held as objects they were half of what every middle collection scanned (the
core benchmark's longest events)."""

KINDS: tuple[TimerKind, ...] = tuple(TimerKind)
KIND_CODE: dict[TimerKind, int] = {k: i for i, k in enumerate(KINDS)}


def timer_entry(due: float, seq: int, t: Timer) -> TimerEntry:
    return (due, seq, KIND_CODE[t.kind], t.ref, t.guard, t.interaction_id)


def entry_timer(e: TimerEntry) -> Timer:
    return Timer(KINDS[e[2]], e[3], e[4], e[5])
