import asyncio

import pytest

from cc_router.bench import wake_cost


def test_each_message_is_one_wake_up_and_the_work_is_counted() -> None:
    bare = asyncio.run(wake_cost.case(200, 0, 0.2))
    busy = asyncio.run(wake_cost.case(200, 400, 0.2))
    assert bare["messages"] == busy["messages"] == 40
    # Spaced 5 ms apart, every message wakes the loop on its own: the figure is per wake-up.
    assert 0.8 <= bare["loop_wakeups_per_message"] <= 1.3
    assert busy["work_warm_us"] > bare["work_warm_us"]
    assert busy["cpu_us_per_message"] > bare["cpu_us_per_message"]


def test_rows_give_the_work_beside_its_warm_cost(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wake_cost, "RATES", (200,))
    rows = asyncio.run(wake_cost.run(0.1))
    assert [r["work_lookups"] for r in rows] == list(wake_cost.WORKS)
    worked = rows[-1]
    assert worked["work_after_sleep_us"] == round(
        worked["cpu_us_per_message"] - rows[0]["cpu_us_per_message"], 1
    )
    assert worked["work_cold_factor"] is not None
