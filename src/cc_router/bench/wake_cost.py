"""What one wake-up of an idle event loop costs on this machine, by how long it slept.

A uvloop server (as `cc-router run` uses) gets small TCP messages from another process at
a fixed rate, one message per wake-up, and does either nothing with each or a fixed piece
of Python work (dictionary lookups across a 20,000-entry table, the kind of reads routing
does). The event loop thread's CPU time per message is the price of one wake-up after a
sleep of 1/rate seconds; the same work run back to back gives its warm cost. On a virtual
machine whose vCPU halts while the loop sleeps, both grow with the sleep. In the live
router most wake-ups follow sleeps under 1 ms and about one per call a sleep of 10 ms or
more (`live_router --wakeups`, `traced_loop_wakeups_by_sleep`), so this prices only part
of its CPU per call (README, "where it stands").

`python -m cc_router.bench.wake_cost [seconds per case]` prints one JSON line per case.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import socket
import sys
import time
from typing import Any

import uvloop

from cc_router.bench.live_router import loop_wakeups

RATES = (30, 100, 300, 1000)
WORKS = (0, 400)
"""Lookups per message: none (the wake-up alone), and about 30 µs of warm Python."""
MESSAGE = b"x" * 100
_TABLE = {i: [i] * 8 for i in range(20_000)}


def work(n: int) -> int:
    table, total = _TABLE, 0
    for i in range(n):
        total += len(table[(i * 7919) % 20_000])
    return total


def _send(port: int, rate: int, count: int) -> None:
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    start = time.monotonic()
    for k in range(count):
        # On an absolute schedule: the gaps stay 1/rate however long a send takes.
        delay = start + k / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        sock.sendall(MESSAGE)
    sock.close()


class _Counter(asyncio.Protocol):
    def __init__(self, n: int, done: asyncio.Future[None], expected: int) -> None:
        self.n, self.done, self.expected = n, done, expected
        self.bytes = 0

    def data_received(self, data: bytes) -> None:
        work(self.n)
        self.bytes += len(data)
        if self.bytes >= self.expected and not self.done.done():
            self.done.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(None)


async def case(rate: int, n: int, seconds: float) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    count = max(20, int(rate * seconds))
    done: asyncio.Future[None] = loop.create_future()
    server = await loop.create_server(lambda: _Counter(n, done, count * len(MESSAGE)), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    # Forked before any message: the sender is another process, as Asterisk is.
    sender = multiprocessing.get_context("fork").Process(target=_send, args=(port, rate, count), daemon=True)
    cpu0, wakes0 = time.thread_time(), loop_wakeups(os.getpid())
    sender.start()
    await asyncio.wait_for(done, seconds * 3 + 10)
    cpu, wakes = time.thread_time() - cpu0, loop_wakeups(os.getpid()) - wakes0
    server.close()
    sender.join(5)
    t0 = time.thread_time()
    for _ in range(500):
        work(n)
    warm = (time.thread_time() - t0) / 500
    return {
        "bench": "wake_cost",
        "sleep_ms": round(1000 / rate, 1),
        "messages": count,
        "loop_wakeups_per_message": round(wakes / count, 2),
        "work_lookups": n,
        "cpu_us_per_message": round(cpu / count * 1e6, 1),
        "work_warm_us": round(warm * 1e6, 1),
    }


async def run(seconds: float) -> list[dict[str, Any]]:
    rows = [await case(rate, n, seconds) for n in WORKS for rate in RATES]
    # What the work costs beyond a bare wake-up, against its warm cost, at each sleep.
    bare = {r["sleep_ms"]: r["cpu_us_per_message"] for r in rows if r["work_lookups"] == 0}
    for r in rows:
        if r["work_lookups"]:
            extra = r["cpu_us_per_message"] - bare[r["sleep_ms"]]
            r["work_after_sleep_us"] = round(extra, 1)
            r["work_cold_factor"] = round(extra / r["work_warm_us"], 2) if r["work_warm_us"] else None
    return rows


def main(argv: list[str]) -> None:
    seconds = float(argv[0]) if argv else 4.0
    for row in uvloop.run(run(seconds)):
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
