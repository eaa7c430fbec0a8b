"""When a callback may be tried: attempts, the gap between them and a window of hours.

Pure: times are epoch seconds handed in; the window is in the centre's time zone (a
customer is called back at a decent local hour, whatever the server's clock says).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

DAY_S = 86_400.0


@dataclass(frozen=True, slots=True)
class CallbackPolicy:
    attempts: int = 3
    """Tries to reach the customer before the callback is given up."""
    gap_s: float = 300.0
    """Between the end of one try and the start of the next."""
    window_start_s: float = 8 * 3600.0
    window_end_s: float = 20 * 3600.0
    """Local hours (seconds after midnight) in which customers may be called; a window
    whose end is before its start runs over midnight; start == end means all day."""
    offer_after_s: float | None = None
    """Offer a waiting caller a callback after this long on hold (None: only at exits)."""

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("callback attempts must be at least 1")
        if self.gap_s < 0:
            raise ValueError("callback gap_s must not be negative")
        for v in (self.window_start_s, self.window_end_s):
            if not 0 <= v <= DAY_S:
                raise ValueError("callback window hours must be within a day")


def in_window(policy: CallbackPolicy, t: float, tz: ZoneInfo) -> bool:
    start, end = policy.window_start_s, policy.window_end_s
    if start == end:
        return True
    sod = _second_of_day(t, tz)
    if start < end:
        return start <= sod < end
    return sod >= start or sod < end


def first_in_window(policy: CallbackPolicy, t: float, tz: ZoneInfo) -> float:
    """`t` if it is inside the window, else when the window next opens."""
    if in_window(policy, t, tz):
        return t
    local = datetime.fromtimestamp(t, tz)
    opens = datetime.combine(local.date(), _clock(policy.window_start_s), tzinfo=tz)
    if opens.timestamp() <= t:
        opens = datetime.combine(local.date() + timedelta(days=1), _clock(policy.window_start_s), tzinfo=tz)
    return opens.timestamp()


def next_attempt_at(
    policy: CallbackPolicy, attempts_made: int, last_end: float, tz: ZoneInfo
) -> float | None:
    """When the next try may start after `attempts_made` tries, the last ending at
    `last_end`; None when every attempt has been used."""
    if attempts_made >= policy.attempts:
        return None
    earliest = last_end + (policy.gap_s if attempts_made else 0.0)
    return first_in_window(policy, earliest, tz)


def _second_of_day(t: float, tz: ZoneInfo) -> float:
    local = datetime.fromtimestamp(t, tz)
    return local.hour * 3600.0 + local.minute * 60.0 + local.second + local.microsecond / 1e6


def _clock(s: float) -> time:
    s = min(s, DAY_S - 1)
    return time(int(s // 3600), int(s % 3600 // 60), int(s % 60))
