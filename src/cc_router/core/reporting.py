"""The reporting grain and the way a queue visit counts, shared by the store's interval
rows, the wallboard's current interval and the simulator's charts.

Time is cut into the same slots everywhere, and in every queue figure

    sl_pct = 100 * answered_within_sl / (answered + abandoned_after_sl)

answered visits within the threshold count for the queue, abandoned ones after it
against; visits that left by an exit are counted apart and are not part of the ratio.
"""

from __future__ import annotations

from dataclasses import dataclass

from cc_router.core.vocabulary import ABANDONED_OUTCOMES, ANSWERED_OUTCOMES, Outcome

INTERVAL_S = 900
"""15 minutes, the usual contact-centre reporting interval."""


@dataclass(slots=True)
class VisitTally:
    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    abandoned_after_sl: int = 0
    answered_within_sl: int = 0
    overflowed: int = 0
    timed_out: int = 0
    other_exits: int = 0
    wait_answered: float = 0.0
    talk_answered: float = 0.0
    wait_abandoned: float = 0.0

    def count(self, outcome: str, wait: float, talk: float, answered: bool, service_level_s: float) -> None:
        """One visit ended with `outcome` (an `Outcome`, or any other word for an exit)."""
        self.offered += 1
        if outcome in ANSWERED_OUTCOMES and answered:
            self.answered += 1
            self.wait_answered += wait
            self.talk_answered += talk
            if wait <= service_level_s:
                self.answered_within_sl += 1
        elif outcome in ABANDONED_OUTCOMES:
            self.abandoned += 1
            self.wait_abandoned += wait
            if wait > service_level_s:
                self.abandoned_after_sl += 1
        elif outcome == Outcome.OVERFLOWED:
            self.overflowed += 1
        elif outcome == Outcome.TIMED_OUT:
            self.timed_out += 1
        else:
            self.other_exits += 1
