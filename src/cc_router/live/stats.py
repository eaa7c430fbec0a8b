"""Per-queue counters for a period (today, the current 15-minute interval, since start).

The definitions match `cc_router.store.reports`, so the wallboard and the SQL reports
agree: service level counts callers who hung up before the threshold neither for nor
against the queue (`answered_within_sl / (answered + abandoned_after_sl)`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cc_router.core.reporting import INTERVAL_S

__all__ = ["INTERVAL_S", "QueueCounters", "service_level_pct"]


def service_level_pct(answered_within_sl: int, answered: int, abandoned_after_sl: int) -> float | None:
    """Percent answered within the threshold; None when nothing counts yet (as in reports)."""
    divisor = answered + abandoned_after_sl
    return 100.0 * answered_within_sl / divisor if divisor else None


@dataclass(slots=True)
class QueueCounters:
    offered: int = 0
    """Interactions that entered the queue (arrived, moved, overflowed or transferred in)."""
    answered: int = 0
    answered_within_sl: int = 0
    abandoned: int = 0
    abandoned_after_sl: int = 0
    exits: int = 0
    """Left by an exit (max wait, max length, empty, overflow, moved away)."""
    wait_answered_s: float = 0.0
    max_wait_answered_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        sl = service_level_pct(self.answered_within_sl, self.answered, self.abandoned_after_sl)
        return {
            "offered": self.offered,
            "answered": self.answered,
            "answered_within_sl": self.answered_within_sl,
            "abandoned": self.abandoned,
            "abandoned_after_sl": self.abandoned_after_sl,
            "exits": self.exits,
            "sl_pct": None if sl is None else round(sl, 1),
            # Share of interactions that entered the queue and were abandoned.
            "abandon_pct": round(100.0 * self.abandoned / self.offered, 1) if self.offered else None,
            "asa_s": round(self.wait_answered_s / self.answered, 1) if self.answered else None,
            "max_wait_answered_s": round(self.max_wait_answered_s, 1),
        }
