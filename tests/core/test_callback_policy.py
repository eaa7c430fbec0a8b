"""Callback attempts: how many, the gap between them, and the window of local hours."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from cc_router.core.callbacks import CallbackPolicy, first_in_window, in_window, next_attempt_at

SH = ZoneInfo("Asia/Shanghai")


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=SH).timestamp()


POLICY = CallbackPolicy(attempts=3, gap_s=600, window_start_s=8 * 3600, window_end_s=20 * 3600)


def test_attempts_are_spaced_by_the_gap_and_run_out() -> None:
    t = at("2027-01-25 10:00")
    assert next_attempt_at(POLICY, 0, t, SH) == t  # the first try at once
    assert next_attempt_at(POLICY, 1, t, SH) == t + 600
    assert next_attempt_at(POLICY, 2, t, SH) == t + 600
    assert next_attempt_at(POLICY, 3, t, SH) is None


def test_outside_the_window_waits_for_it_to_open_in_local_time() -> None:
    late = at("2027-01-25 19:55")
    assert in_window(POLICY, late, SH)
    # 19:55 + 10 min is after 20:00: the next try is at 08:00 the next morning, Shanghai time.
    assert next_attempt_at(POLICY, 1, late, SH) == at("2027-01-26 08:00")
    assert first_in_window(POLICY, at("2027-01-26 06:30"), SH) == at("2027-01-26 08:00")
    assert not in_window(POLICY, at("2027-01-26 20:00"), SH)


def test_a_window_over_midnight_and_an_all_day_window() -> None:
    night = CallbackPolicy(window_start_s=22 * 3600, window_end_s=6 * 3600)
    assert in_window(night, at("2027-01-25 23:30"), SH)
    assert in_window(night, at("2027-01-26 05:59"), SH)
    assert first_in_window(night, at("2027-01-26 12:00"), SH) == at("2027-01-26 22:00")
    always = CallbackPolicy(window_start_s=0, window_end_s=0)
    assert in_window(always, at("2027-01-26 03:00"), SH)


@pytest.mark.parametrize(
    "bad", [{"attempts": 0}, {"gap_s": -1}, {"window_start_s": -5}, {"window_end_s": 90_000}]
)
def test_bad_policies_are_refused(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="callback"):
        CallbackPolicy(**bad)  # type: ignore[arg-type]
