"""Where a live router's CPU goes, by part: `cc-router run` with thread-CPU counters.

`python -m cc_router.bench.cpu_parts OUT.json run --config ...` runs the router's own
command line in this process after putting counters around its parts, and writes the
totals to OUT.json every second. Each counter is the event loop thread's CPU time
(`time.thread_time`, user and system) spent inside one part, and how often it ran:

- `ami_read`: every AMI read, from the bytes to the last effect of the events it carried
  (parsing, translating, the core and every sink: it contains `submit`), and the same
  by session (`ami_read:<node>`, `ami_read:<node>-arrivals`);
- `submit`: one event through the router (`Service.submit`), and inside it `core`
  (`Router.handle`), each listener (`listener:...`) and each sink (`sink:...`);
- `observers`: each batch to the observers (`observer:...` each);
- `task:...`: every step of every task by its coroutine (components by their name): the
  store writer, the session store, HTTP requests and streams, the ticker;
- `gc0`-`gc2`: the collector's pauses by generation.

What none of these hold (the loop thread's CPU less their sum, less `submit` and the
sinks' share inside `ami_read`) is the event loop's own work: waiting in and returning from
epoll, reading sockets, running callbacks that are not a task. The live benchmark runs the
router this way with `--parts` and prints each part per routed call (live_router.py); the
counters cost about a microsecond per read, event and task step.
"""

from __future__ import annotations

import asyncio
import gc
import json
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Generator
from pathlib import Path
from typing import Any

from cc_router.service import handled_by

Counters = dict[str, list[float]]
"""part -> [times it ran, thread CPU seconds]"""

_clock = time.thread_time


def _add(counters: Counters, key: str, spent: float) -> None:
    c = counters.get(key)
    if c is None:
        counters[key] = [1.0, spent]
    else:
        c[0] += 1
        c[1] += spent


def timed(counters: Counters, key: str, f: Callable[..., Any]) -> Callable[..., Any]:
    def run(*args: Any, **kwargs: Any) -> Any:
        t0 = _clock()
        try:
            return f(*args, **kwargs)
        finally:
            _add(counters, key, _clock() - t0)

    run.__qualname__ = getattr(f, "__qualname__", key)
    kinds = handled_by(f)
    if kinds is not None:
        run.handles = kinds  # type: ignore[attr-defined]  # the service still skips it alike
    return run


def timed_read(counters: Counters, f: Callable[[Any, bytes], None]) -> Callable[[Any, bytes], None]:
    """`AmiProtocol.data_received` counted in all (`ami_read`) and by its session."""

    def run(proto: Any, data: bytes) -> None:
        t0 = _clock()
        try:
            f(proto, data)
        finally:
            spent = _clock() - t0
            _add(counters, "ami_read", spent)
            _add(counters, f"ami_read:{proto.name}", spent)

    return run


class TimedCoroutine(Coroutine[Any, Any, Any]):
    """A task's coroutine whose every step is counted under `key`."""

    __slots__ = ("_coro", "_counters", "_key")

    def __init__(self, coro: Coroutine[Any, Any, Any], counters: Counters, key: str) -> None:
        self._coro, self._counters, self._key = coro, counters, key

    def send(self, value: Any) -> Any:
        t0 = _clock()
        try:
            return self._coro.send(value)
        finally:
            _add(self._counters, self._key, _clock() - t0)

    def throw(self, *args: Any) -> Any:
        t0 = _clock()
        try:
            return self._coro.throw(*args)
        finally:
            _add(self._counters, self._key, _clock() - t0)

    def close(self) -> None:
        self._coro.close()

    def __await__(self) -> Generator[Any, None, Any]:
        return self._coro.__await__()


def task_key(coro: Coroutine[Any, Any, Any]) -> str:
    key = "task:" + getattr(coro, "__qualname__", type(coro).__name__)
    frame = getattr(coro, "cr_frame", None)
    # Components run under `supervise(name, run)`: named by their component.
    name = frame.f_locals.get("name") if frame is not None else None
    return f"{key}:{name}" if isinstance(name, str) else key


def install(counters: Counters) -> None:
    """Counters around the router's parts; call before the service is built."""
    from cc_router.adapters.ami.protocol import AmiProtocol
    from cc_router.service import Service

    AmiProtocol.data_received = timed_read(counters, AmiProtocol.data_received)  # type: ignore[method-assign,assignment]
    Service.submit = timed(counters, "submit", Service.submit)  # type: ignore[method-assign]
    Service.flush_observers = timed(counters, "observers", Service.flush_observers)  # type: ignore[method-assign]
    run = Service.run

    async def counted_run(self: Service) -> None:
        loop = asyncio.get_running_loop()

        def factory(loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> asyncio.Task[Any]:
            return asyncio.Task(TimedCoroutine(coro, counters, task_key(coro)), loop=loop, **kwargs)

        loop.set_task_factory(factory)
        self.sinks[:] = [timed(counters, "sink:" + part_name(f), f) for f in self.sinks]
        self.listeners[:] = [timed(counters, "listener:" + part_name(f), f) for f in self.listeners]
        self.observers[:] = [timed(counters, "observer:" + part_name(f), f) for f in self.observers]
        self.router.handle = timed(counters, "core", self.router.handle)  # type: ignore[method-assign]
        await run(self)

    Service.run = counted_run  # type: ignore[method-assign]
    started = [0.0]

    def collector(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started[0] = _clock()
        else:
            _add(counters, f"gc{info['generation']}", _clock() - started[0])

    gc.callbacks.append(collector)


def part_name(f: Any) -> str:
    return str(getattr(f, "__qualname__", None) or type(f).__name__)


def write_every(counters: Counters, out: Path, interval_s: float = 1.0) -> None:
    """Write the counters to `out` every `interval_s` from a thread of their own."""

    def loop() -> None:
        while True:
            time.sleep(interval_s)
            tmp = out.with_suffix(".tmp")
            tmp.write_text(json.dumps({"at": time.time(), "parts": dict(counters)}))
            tmp.replace(out)

    threading.Thread(target=loop, name="cpu-parts", daemon=True).start()


def read(path: Path) -> Counters:
    try:
        return dict(json.loads(path.read_text())["parts"])
    except (FileNotFoundError, ValueError, KeyError):
        return {}


def per_call(before: Counters, after: Counters, calls: int) -> dict[str, dict[str, float]]:
    """Each part's CPU (ms) and runs per call between two readings, costliest first."""
    rows = []
    for key, (n, s) in after.items():
        n0, s0 = before.get(key, [0.0, 0.0])
        if s - s0 > 0:
            rows.append((s - s0, key, n - n0))
    rows.sort(reverse=True)
    return {
        key: {"ms_per_call": round(1000 * s / calls, 3), "runs_per_call": round(n / calls, 2)}
        for s, key, n in rows
        if calls
    }


def main(argv: list[str]) -> None:
    out = Path(argv[0])
    counters: Counters = {}
    install(counters)
    write_every(counters, out)
    from cc_router.cli.main import app

    sys.argv = ["cc-router", *argv[1:]]
    app()


if __name__ == "__main__":
    main(sys.argv[1:])
