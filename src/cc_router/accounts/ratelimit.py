"""Failed-login limits, per user name and per client address, over a sliding window.

A user name under attack from many addresses locks that name for the window; one address
trying many names is stopped too. Successful logins do not count.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass
class FailureLimiter:
    per_user: int = 5
    per_address: int = 20
    window_s: float = 300.0
    _users: dict[str, deque[float]] = field(default_factory=dict)
    _addresses: dict[str, deque[float]] = field(default_factory=dict)

    def _recent(self, table: dict[str, deque[float]], key: str, now: float) -> deque[float]:
        q = table.get(key)
        if q is None:
            return deque()
        while q and q[0] <= now - self.window_s:
            q.popleft()
        if not q:
            del table[key]
        return q

    def retry_after(self, user: str, address: str, now: float) -> float | None:
        """Seconds until another attempt is allowed, or None when one is allowed now."""
        waits = []
        u = self._recent(self._users, user, now)
        if len(u) >= self.per_user:
            waits.append(u[0] + self.window_s - now)
        a = self._recent(self._addresses, address, now)
        if len(a) >= self.per_address:
            waits.append(a[0] + self.window_s - now)
        return max(waits) if waits else None

    def failed(self, user: str, address: str, now: float) -> None:
        self._users.setdefault(user, deque()).append(now)
        self._addresses.setdefault(address, deque()).append(now)
        # Bounded memory under a spray of made-up names: forget the oldest keys.
        for table in (self._users, self._addresses):
            while len(table) > 100_000:
                del table[next(iter(table))]
