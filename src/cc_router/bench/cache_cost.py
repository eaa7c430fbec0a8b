"""What an event costs the router when the CPU caches are cold, as they are live.

The service built by `wiring.build` (every sink) with N agents logged in, fed the core
events of answered calls (arrival, accept, end, tick) straight into `Service.submit`: once
back to back (caches warm), once with 64 MB copied between events, which empties the CPU
caches as Asterisk, SIPp and the kernel do between two AMI reads of a live router that
shares its cores with them. Only `submit` is timed (thread CPU time), and the observers
(live view, metrics, expected waits, announcements, decision log) apart: told at once with
each event (`observers_each_event`) or, as a running service tells them, in batches
(`observers_batched`: every 3 calls' events, 100 ms at 30 calls/s; caches emptied before
each batch when the events' are). `parts_ms_per_call_caches_emptied` splits the cold
routing path by part (the core, each sink and listener) in a pass of its own.

`python -m cc_router.bench.cache_cost [agents] [calls]`
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from typing import Any

from cc_router import collector
from cc_router.bench import cpu_parts
from cc_router.bench.e2e import CCR_QUEUE, agent_ids, ccrouter_config
from cc_router.config import loads_config
from cc_router.config.models import LoggingConfig, LogLevel
from cc_router.core import commands as cmd
from cc_router.core import events as ev
from cc_router.logs import configure_logging
from cc_router.sandbox import SandboxSettings

SWEEP_BYTES = 64 << 20


async def run(agents: int, calls: int) -> dict[str, Any]:
    from cc_router.wiring import build

    with tempfile.TemporaryDirectory() as tmp, open("/dev/null", "w") as null:
        configure_logging(LoggingConfig(level=LogLevel.INFO, json=True), stream=null)
        ids = agent_ids(agents)
        raw = ccrouter_config(ids, SandboxSettings(), f"sqlite+aiosqlite:///{tmp}/s.db", 18999)
        service = build(loads_config(json.dumps(raw), env={})).service
        for a in ids:
            service.submit(ev.AgentLoggedIn(a))
        collector.settle()
        src, dst = bytearray(SWEEP_BYTES), bytearray(SWEEP_BYTES)
        clock = [1000.0]
        spent = [0.0]
        observers = list(service.observers)
        observing = [0.0]

        def observe(batch: Any) -> None:
            t0 = time.thread_time()
            for observer in observers:
                observer(batch)
            observing[0] += time.thread_time() - t0

        service.observers[:] = [observe]

        def submit(e: ev.Event, at: float, cold: bool) -> list[cmd.Command]:
            if cold:
                dst[:] = src  # a memory copy larger than every cache level
            t0, seen = time.thread_time(), observing[0]
            out = service.submit(e, at)
            spent[0] += time.thread_time() - t0 - (observing[0] - seen)
            return out

        def call(iid: str, cold: bool) -> None:
            t = clock[0]
            out = submit(ev.InteractionArrived(iid, CCR_QUEUE), t, cold)
            offer = next(c for c in out if isinstance(c, cmd.Offer))
            submit(ev.OfferAccepted(iid, offer.agent_id), t + 0.1, cold)
            submit(ev.InteractionEnded(iid), t + 0.5, cold)
            clock[0] = t + 0.6
            submit(ev.Tick(), t + 60.6, cold)

        for i in range(200):
            call(f"warmup-{i}", False)
        row: dict[str, Any] = {"name": f"cache_cost_{agents}", "agents": agents, "calls": calls}
        for batched in (False, True):
            if batched:
                service.hold_observers()
            for rnd in range(2):
                for cold in (False, True):
                    spent[0] = observing[0] = 0.0
                    for i in range(calls):
                        call(f"r{rnd}-{int(batched)}{int(cold)}-{i}", cold)
                        if batched and i % 3 == 2:
                            if cold:
                                dst[:] = src
                            service.flush_observers()
                    service.flush_observers()
                    caches = "caches_emptied" if cold else "caches_warm"
                    told = "observers_batched" if batched else "observers_each_event"
                    for what, s in (("routing_path", spent[0]), ("observers", observing[0])):
                        key = f"{what}_ms_per_call_{caches}_{told}"
                        row.setdefault(key, []).append(round(1000 * s / calls, 3))
        # Then once more, caches emptied, with a counter around each part of the path
        # (cpu_parts.timed, about a microsecond each): which parts the cold cost is in.
        # Apart from the figures above, which the counters would inflate.
        counters: cpu_parts.Counters = {}
        service.sinks[:] = [
            cpu_parts.timed(counters, "sink:" + cpu_parts.part_name(f), f) for f in service.sinks
        ]
        service.listeners[:] = [
            cpu_parts.timed(counters, "listener:" + cpu_parts.part_name(f), f) for f in service.listeners
        ]
        handle = service.router.handle
        service.router.handle = cpu_parts.timed(counters, "core", handle)  # type: ignore[method-assign]
        spent[0] = 0.0
        for i in range(calls):
            call(f"parts-{i}", True)
            if i % 3 == 2:
                service.flush_observers()
        counters["routing_path"] = [4.0 * calls, spent[0]]
        row["parts_ms_per_call_caches_emptied"] = {
            k: v["ms_per_call"] for k, v in cpu_parts.per_call({}, counters, calls).items()
        }
        return row


def main(argv: list[str]) -> None:
    agents = int(argv[0]) if argv else 20_000
    calls = int(argv[1]) if len(argv) > 1 else 500
    try:
        print(json.dumps(asyncio.run(run(agents, calls))), flush=True)
    finally:
        # The run logs into /dev/null, closed when it returns: the live group of `make
        # bench` goes on in this process and must log somewhere open (stderr).
        configure_logging(LoggingConfig(level=LogLevel.INFO))


if __name__ == "__main__":
    main(sys.argv[1:])
