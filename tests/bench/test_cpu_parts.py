"""The per-part CPU counters count what runs inside each part, tasks included."""

from __future__ import annotations

import asyncio
import time

from cc_router.bench import cpu_parts


def _spin(seconds: float) -> None:
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


def test_timed_counts_runs_and_cpu() -> None:
    counters: cpu_parts.Counters = {}
    f = cpu_parts.timed(counters, "part", _spin)
    f(0.01)
    f(0.01)
    runs, spent = counters["part"]
    assert runs == 2
    assert 0.018 < spent < 0.1


def test_task_steps_counted_by_coroutine() -> None:
    counters: cpu_parts.Counters = {}

    async def work() -> int:
        _spin(0.01)
        await asyncio.sleep(0)
        _spin(0.01)
        return 7

    async def main() -> int:
        loop = asyncio.get_running_loop()
        coro = work()
        task = asyncio.Task(cpu_parts.TimedCoroutine(coro, counters, cpu_parts.task_key(coro)), loop=loop)
        return await task

    assert asyncio.run(main()) == 7
    key = next(k for k in counters if k.startswith("task:") and "work" in k)
    runs, spent = counters[key]
    assert runs >= 2  # one per step: before and after the sleep
    assert spent > 0.018


def test_per_call_between_readings() -> None:
    before = {"a": [10.0, 1.0], "b": [5.0, 0.5]}
    after = {"a": [30.0, 3.0], "b": [5.0, 0.5], "c": [4.0, 0.2]}
    got = cpu_parts.per_call(before, after, 100)
    assert list(got) == ["a", "c"]  # costliest first; b did not run
    assert got["a"] == {"ms_per_call": 20.0, "runs_per_call": 0.2}
