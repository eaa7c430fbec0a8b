"""`python -m cc_router.bench [group ...]`: benchmark figures, one JSON object per line.

Groups: core (routing core vs brute force), ami (frame parser), store (SQL writer),
surfaces (live view and decision logs), sim (simulator and app_queue comparison),
ewt (expected-wait error beside app_queue's holdtime, in the simulator;
CC_ROUTER_BENCH_SMALL=1 for a short run),
e2e (real Asterisk with SIPp, cc-router beside app_queue: 2,000 agents at 50 and 100
calls/s, then 20,000 agents at 30 calls/s for 30 s), live (`cc-router run` in its own
process with 20,000 agents at 30 and 100 calls/s: its CPU per routed call and where it
goes), ha (session restore, standby
takeover, and against the real Asterisk: failover to the first Originate, a restart beside
held callers; CC_ROUTER_BENCH_SMALL=1 for a short run), desk (5,000 agent desktops
connected while calls flow: offer-to-screen latency, core latency, cost per connection;
CC_ROUTER_BENCH_SMALL=1: 1,000 desktops; CC_ROUTER_BENCH_DESKTOPS, _DESK_CALLS_PER_S to
change the floor), conv (2,000 web chats with agents answering, from other processes;
e-mail taken in from a private Dovecot over IMAP; CC_ROUTER_BENCH_SMALL=1 for a short
run), multinode (two real Asterisk nodes, SIPp into both, same-node and cross-node
offers). No group: all of them.
Each group runs in its own interpreter so memory figures do not mix.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable


def _core() -> None:
    from cc_router.bench.core_bench import run_case

    for agents, events, naive in ((200, 20_000, 2_000), (2_000, 20_000, 2_000), (20_000, 30_000, 300)):
        for row in run_case(agents, 100, events, naive):
            print(json.dumps(row), flush=True)


def _ami() -> None:
    from cc_router.adapters.ami.protocol import bench_ami_parser

    bench_ami_parser()
    bench_ami_parser(fixture="a_connect.ami")


def _store() -> None:
    import asyncio
    import tempfile
    from pathlib import Path

    from cc_router.store import bench_store

    with tempfile.TemporaryDirectory() as tmp:
        for url in (
            f"sqlite+aiosqlite:///{tmp}/bench.db",
            "postgresql+asyncpg://postgres@127.0.0.1:5432/test",
        ):
            for journal in (False, True):
                jdir = Path(tmp) / "journal" if journal else None
                try:
                    row = asyncio.run(bench_store(url, 20_000, journal_dir=jdir))
                except OSError as exc:  # no PostgreSQL on this machine: say so, go on
                    row = {"store": url.split(":")[0], "error": str(exc)}
                name = f"store_{row.get('dialect', 'x')}{'_journal' if journal else ''}"
                print(json.dumps({"name": name, **row}, default=str), flush=True)


def _surfaces() -> None:
    from cc_router.live import bench as live_bench
    from cc_router.logs import bench as logs_bench

    live_bench.main()
    logs_bench.main([])


def _sim() -> None:
    from cc_router.sim.bench import sim_bench_rows

    for row in sim_bench_rows():
        print(json.dumps(row, ensure_ascii=False), flush=True)


def _ewt() -> None:
    import os
    from pathlib import Path

    from cc_router.sim.ewt import ewt_bench_rows

    root = Path(__file__).resolve().parents[3]
    small = os.environ.get("CC_ROUTER_BENCH_SMALL") == "1"
    for row in ewt_bench_rows(str(root), small=small):
        print(json.dumps(row, ensure_ascii=False), flush=True)


def _e2e() -> None:
    from cc_router.bench.e2e import run_e2e_rows, run_large_rows, side_by_side

    rows = run_e2e_rows()
    for row in rows + side_by_side(rows):
        print(json.dumps(row), flush=True)
    # 20,000 agents at 30 calls/s for 30 s, app_queue with 20,000 members in the same run.
    for row in run_large_rows():
        print(json.dumps(row), flush=True)


def _print_row(row: dict[str, object]) -> None:
    print(json.dumps(row, ensure_ascii=False), flush=True)


def _live() -> None:
    import tempfile
    from pathlib import Path

    import uvloop

    from cc_router.bench import cache_cost, wake_cost
    from cc_router.bench.live_router import run_live

    # What a wake-up of an idle event loop costs on this machine, by how long it slept:
    # part of what the live figures below pay per AMI read.
    wake_cost.main([])
    # In process first: the same submits with warm and with emptied CPU caches, which is
    # what separates the live figure from the in-process one.
    cache_cost.main([])
    with tempfile.TemporaryDirectory(prefix="ccr-live-profile-") as tmp:
        profile = Path(tmp) / "profile.txt"
        uvloop.run(run_live(20_000, (30, 100), 30.0, profile, None, _print_row, wakeups=True))
    # Once more at 30 calls/s with the per-part counters in the router (`cpu_parts_per_call`:
    # which part costs what per call); apart, so the figures above carry no counters.
    uvloop.run(run_live(20_000, (30,), 30.0, None, None, _print_row, parts=True))


def _ha() -> None:
    import asyncio

    from cc_router.bench import ha_live
    from cc_router.bench.ha_bench import failover_rows, restore_row

    small = os.environ.get("CC_ROUTER_BENCH_SMALL") == "1"
    pg = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
    print(json.dumps(asyncio.run(restore_row(2_000 if small else 20_000))), flush=True)
    try:
        for row in failover_rows(pg, 2 if small else 10):
            print(json.dumps(row), flush=True)
    except OSError as exc:  # no PostgreSQL on this machine: say so, go on
        print(json.dumps({"name": "ha_failover_ready", "error": str(exc)}), flush=True)
    # Against the real Asterisk sandbox.
    try:
        for row in asyncio.run(ha_live.failover_rows(pg, 2 if small else 10)):
            print(json.dumps(row), flush=True)
    except OSError as exc:
        print(json.dumps({"name": "ha_failover_first_originate", "error": str(exc)}), flush=True)
    # 2,000 callers on hold, as Local channel pairs through ccr-inbound (ha_live._hold_local:
    # the router's side of a SIP caller without Asterisk's SIP and RTP work). This 2-core
    # machine carries about 800 SIPp callers on hold, not 2,000: CC_ROUTER_BENCH_HELD_BY=sipp
    # with CC_ROUTER_BENCH_HELD=800 measures those.
    agents, callers = (2_000, 100) if small else (20_000, int(os.environ.get("CC_ROUTER_BENCH_HELD", "2000")))
    held_by = os.environ.get("CC_ROUTER_BENCH_HELD_BY", "local")
    print(json.dumps(asyncio.run(ha_live.restart_row(agents, callers, held_by=held_by))), flush=True)


def _desk() -> None:
    import asyncio

    from cc_router.bench.desk_bench import run_desk
    from cc_router.config.models import LoggingConfig, LogLevel
    from cc_router.logs import configure_logging

    # Stdout carries the figures; the service's own lines go to stderr, warnings only.
    configure_logging(LoggingConfig(level=LogLevel.WARNING))
    small = os.environ.get("CC_ROUTER_BENCH_SMALL") == "1"
    n = int(os.environ.get("CC_ROUTER_BENCH_DESKTOPS", "1000" if small else "5000"))
    rate = os.environ.get("CC_ROUTER_BENCH_DESK_CALLS_PER_S")
    runs = run_desk(n, seconds=10.0 if small else 30.0, calls_per_s=float(rate) if rate else None)
    for row in asyncio.run(runs):
        print(json.dumps(row), flush=True)


def _conv() -> None:
    from cc_router.bench.conv_bench import rows

    for row in rows(small=os.environ.get("CC_ROUTER_BENCH_SMALL") == "1"):
        print(json.dumps(row, ensure_ascii=False), flush=True)


def _multinode() -> None:
    from cc_router.bench.multinode import rows

    for row in rows():
        print(json.dumps(row), flush=True)


GROUPS: dict[str, Callable[[], None]] = {
    "core": _core,
    "ami": _ami,
    "store": _store,
    "surfaces": _surfaces,
    "sim": _sim,
    "ewt": _ewt,
    "e2e": _e2e,
    "live": _live,
    "ha": _ha,
    "desk": _desk,
    "conv": _conv,
    "multinode": _multinode,
}


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "--one":
        GROUPS[argv[1]]()
        return 0
    unknown = [g for g in argv if g not in GROUPS]
    if unknown:
        print(f"unknown group(s) {unknown}; choose from {list(GROUPS)}", file=sys.stderr)
        return 2
    failed = 0
    for group in argv or list(GROUPS):
        proc = subprocess.run([sys.executable, "-m", "cc_router.bench", "--one", group], check=False)
        if proc.returncode:
            failed += 1
            print(json.dumps({"name": group, "error": f"exit status {proc.returncode}"}), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
