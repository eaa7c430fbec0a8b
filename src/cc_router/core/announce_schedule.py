"""When each waiting caller is next told its position and expected wait.

Pure: the caller's entry and departure come in with the time, `due(now)` hands back the
callers whose announcement should start now. The AMI side only plays what it is handed;
what to say is `cc_router.core.announce.compose`.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

from cc_router.core.announce import AnnouncePolicy, next_due


@dataclass(slots=True)
class AnnounceSchedule:
    _due: list[tuple[float, int, str]] = field(default_factory=list)
    _policy: dict[str, AnnouncePolicy] = field(default_factory=dict)
    _at: dict[str, float] = field(default_factory=dict)
    _seq: int = 0

    def join(self, interaction: str, policy: AnnouncePolicy, now: float) -> None:
        """A caller starts holding: its first announcement is due on entering."""
        self._policy[interaction] = policy
        self._push(interaction, next_due(policy, now, None))

    def leave(self, interaction: str) -> None:
        """Connected, abandoned or gone to an exit: nothing more is said to it."""
        self._policy.pop(interaction, None)
        self._at.pop(interaction, None)

    def due(self, now: float) -> list[str]:
        """Callers whose announcement starts now; each is next due `every_s` later.
        Entries left behind by `leave` or a newer push are dropped as they surface."""
        out: list[str] = []
        while self._due and self._due[0][0] <= now:
            at, _, who = heapq.heappop(self._due)
            if self._at.get(who) != at:
                continue
            del self._at[who]  # a second heap entry at the same time is now stale too
            out.append(who)
        # Re-queued after the loop, so a zero `every_s` cannot announce twice in one call.
        for who in out:
            self._push(who, next_due(self._policy[who], now, now))
        return out

    def next_wake(self) -> float | None:
        """The earliest time `due` may return something (None: nobody is holding)."""
        while self._due and self._at.get(self._due[0][2]) != self._due[0][0]:
            heapq.heappop(self._due)
        return self._due[0][0] if self._due else None

    def _push(self, interaction: str, at: float) -> None:
        self._at[interaction] = at
        self._seq += 1
        heapq.heappush(self._due, (at, self._seq, interaction))
