"""The desktop push at scale: N agent desktops connected to one router while calls flow.

The router runs here as `cc-router run` builds it (store on a SQLite file, HTTP, accounts,
desktop hub) on a free loopback port, with N agents logged in and no Asterisk: a driver
plays the phones (calls arrive, are answered a moment after the offer, end after a talk
time, wrap-up ends on the queue's timer). Load generators (`desk_load`, separate
processes) hold one desktop stream per agent and time each offer and state change from
the router's clock to its arrival on the "screen".

Phases, each bounded in time: the same traffic first with no desktop connected (the
baseline), then with all N connected. Figures: offer-to-screen and state-to-screen
latency p50/p99, the core's latency (one `Service.submit`, event in to every sink done)
and the event loop's lag, baseline beside connected, and the router's memory and CPU per
connection. Desktops authenticate with the machine token and `?agent=` (N argon2
logins would take minutes and measure the hash, not the push); a session token is looked
up the same way, one dict read.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import json
import os
import resource
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median
from typing import Any

from cc_router.config.load import parse_config
from cc_router.core import commands as cmd
from cc_router.core import events as ev
from cc_router.service import Service

TOKEN = "desk-bench-machine-token"
QUEUES = 8


def bench_config(agents: int, store_url: str) -> Any:
    data = {
        "centre": {"name": "desk bench", "timezone": "Asia/Shanghai"},
        "skills": ["zh"],
        "agents": [{"id": f"d{i:05d}", "skills": {"zh": 5}} for i in range(agents)],
        "queues": [
            {"name": f"q{q}", "requirement": "zh", "ring_timeout_s": 20, "wrapup_s": 2} for q in range(QUEUES)
        ],
        "pause_reasons": [{"code": "break", "label": "休息 break", "max_s": 900, "on_max": "flag"}],
        "dispositions": {f"q{q}": {"codes": [{"code": "done", "label": "done"}]} for q in range(QUEUES)},
        "http": {"host": "127.0.0.1", "token": TOKEN},
        "store": {"url": store_url, "flush_interval_s": 0.2},
    }
    return parse_config(data, source="<desk bench>", env={})


PG_ADMIN = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


async def _pg(sql: str) -> None:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    admin = create_async_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(sql))
    finally:
        await admin.dispose()


async def scratch_store(tmp: str) -> str:
    """A PostgreSQL database of its own (the production store; SQLite's one writer lock
    times out under this load), or a SQLite file where there is no PostgreSQL."""
    name = f"ccr_desk_bench_{os.getpid()}"
    try:
        await _pg(f'CREATE DATABASE "{name}"')
    except OSError:
        return f"sqlite+aiosqlite:///{tmp}/desk.db"
    return PG_ADMIN.rsplit("/", 1)[0] + "/" + name


async def drop_scratch(url: str) -> None:
    if url.startswith("postgresql"):
        with contextlib.suppress(OSError):
            await _pg(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


def progress(what: str) -> None:
    """Where a long run is, on stderr (stdout carries the figures)."""
    print(f"desk bench: {what}", file=sys.stderr, flush=True)


def raise_fd_limit(want: int = 65_536) -> int:
    """One descriptor per desktop: raise the soft limit to the hard one, and the hard one
    too where allowed (root), since 20,000 desktops need more than Debian's default."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    for limit in ((max(want, hard), max(want, hard)), (hard, hard)):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, limit)
            return limit[0]
        except (ValueError, OSError):
            continue
    return soft


def pct(xs: list[float], p: float) -> float | None:
    if not xs:
        return None
    s = sorted(xs)
    return round(s[min(len(s) - 1, int(p / 100 * len(s)))], 2)


def rss_kb() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


@dataclass
class Driver:
    """Plays the phones: arrivals at `calls_per_s`, answer after `answer_s`, hang up after `talk_s`."""

    service: Service
    calls_per_s: float
    answer_s: float = 0.3
    talk_s: float = 8.0
    submit_ms: list[float] = field(default_factory=list)
    lag_ms: list[float] = field(default_factory=list)
    due: list[tuple[float, int, ev.Event]] = field(default_factory=list)
    ids: itertools.count[int] = field(default_factory=itertools.count)
    calls: int = 0

    def sink(self, commands: Any, now: float) -> None:
        for c in commands:
            if isinstance(c, cmd.Offer):
                self._later(now + self.answer_s, ev.OfferAccepted(c.interaction_id, c.agent_id))
            elif isinstance(c, cmd.InteractionConnected):
                self._later(now + self.talk_s, ev.InteractionEnded(c.interaction_id, "agent_hangup"))

    def _later(self, at: float, e: ev.Event) -> None:
        heapq.heappush(self.due, (at, next(self.ids), e))

    def submit(self, e: ev.Event) -> None:
        t0 = time.perf_counter()
        self.service.submit(e)
        self.submit_ms.append((time.perf_counter() - t0) * 1000)

    async def run(self, seconds: float) -> None:
        step = 0.02
        start = time.monotonic()
        owed = 0.0
        while time.monotonic() - start < seconds:
            before = time.monotonic()
            await asyncio.sleep(step)
            self.lag_ms.append((time.monotonic() - before - step) * 1000)
            owed += self.calls_per_s * (time.monotonic() - before)
            while owed >= 1:
                owed -= 1
                self.calls += 1
                q = self.calls % QUEUES
                caller = f"1380013{self.calls:04d}"
                self.submit(ev.InteractionArrived(f"c{self.calls}", f"q{q}", caller=caller))
            now = time.time()
            while self.due and self.due[0][0] <= now:
                self.submit(heapq.heappop(self.due)[2])

    async def drain(self) -> None:
        """Let the calls in flight finish, so the next phase starts from a quiet floor."""
        deadline = time.monotonic() + self.talk_s + 5
        while self.due and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            now = time.time()
            while self.due and self.due[0][0] <= now:
                self.submit(heapq.heappop(self.due)[2])

    def take(self) -> tuple[list[float], list[float]]:
        out = (self.submit_ms, self.lag_ms)
        self.submit_ms, self.lag_ms = [], []
        return out


async def _line(proc: asyncio.subprocess.Process, timeout: float) -> dict[str, Any]:
    assert proc.stdout is not None
    raw = await asyncio.wait_for(proc.stdout.readline(), timeout)
    if not raw:
        raise RuntimeError(f"load generator {proc.pid} ended early")
    data: dict[str, Any] = json.loads(raw)
    return data


async def run_desk(
    connections: int = 5_000,
    generators: int = 2,
    seconds: float = 30.0,
    calls_per_s: float | None = None,
    talk_s: float = 8.0,
) -> list[dict[str, Any]]:
    from cc_router.store import migrate
    from cc_router.wiring import build

    raise_fd_limit()
    rate = calls_per_s if calls_per_s is not None else connections / 50
    with tempfile.TemporaryDirectory() as tmp:
        url = await scratch_store(tmp)
        await migrate(url)
        built = build(bench_config(connections, url), store_url_override=url)
        service = built.service
        built.http.port = 0  # a free port
        driver = Driver(service, rate, talk_s=talk_s)
        service.sinks.append(driver.sink)
        task = asyncio.create_task(service.run())
        procs: list[asyncio.subprocess.Process] = []
        try:
            await asyncio.wait_for(built.http.started.wait(), 30)
            port = built.http.bound_port
            assert port is not None
            for aid in service.router.agents:
                service.submit(ev.AgentLoggedIn(aid))
            await asyncio.sleep(1)

            progress(f"baseline, {seconds:g} s at {rate:g} calls/s")
            cpu0, t0 = time.process_time(), time.monotonic()
            await driver.run(seconds)
            base_cpu = (time.process_time() - cpu0) / (time.monotonic() - t0)
            base_submit, base_lag = driver.take()
            base_calls = driver.calls
            await driver.drain()
            driver.take()

            progress(f"connecting {connections} desktops")
            rss0 = rss_kb()
            ids = list(service.router.agents)
            t_conn = time.monotonic()
            for g in range(generators):
                path = Path(tmp) / f"agents{g}.txt"
                path.write_text("\n".join(ids[g::generators]) + "\n")
                argv = [sys.executable, "-m", "cc_router.bench.desk_load", str(port), TOKEN, str(path)]
                procs.append(
                    await asyncio.create_subprocess_exec(
                        *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
                    )
                )
            ready = [await _line(p, 300) for p in procs]
            connect_s = time.monotonic() - t_conn
            connected = sum(r["connected"] for r in ready)
            await asyncio.sleep(2)
            per_conn_kb = (rss_kb() - rss0) / max(1, connected)
            watchers = built.desk.watchers

            progress(f"{connected} connected in {connect_s:.1f} s; the same traffic again")
            for p in procs:
                assert p.stdin is not None
                p.stdin.write(b"measure\n")
                await p.stdin.drain()
            calls0 = driver.calls
            cpu0, t0 = time.process_time(), time.monotonic()
            await driver.run(seconds)
            conn_cpu = (time.process_time() - cpu0) / (time.monotonic() - t0)
            conn_submit, conn_lag = driver.take()
            conn_calls = driver.calls - calls0
            for p in procs:
                assert p.stdin is not None
                p.stdin.close()
            results = [await _line(p, 120) for p in procs]
            progress("stopping")
            for p in procs:
                await p.wait()
        finally:
            for p in procs:
                if p.returncode is None:
                    with contextlib.suppress(ProcessLookupError):
                        p.kill()
            task.cancel()
            # Bounded: a store still retrying a write must not hold the figures back.
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(task, 20)
            await drop_scratch(url)

    offer_ms = [x for r in results for x in r["offer_ms"]]
    state_ms = [x for r in results for x in r["state_ms"]]
    messages = sum(r["messages"] for r in results)
    elapsed = max(r["elapsed_s"] for r in results)
    gen_cpu = sum(r["cpu_s"] for r in results) / elapsed
    common = {
        "store": url.split("+")[0],
        "agents": connections,
        "calls_per_s": rate,
        "talk_s": talk_s,
        "seconds": seconds,
        "cores": os.cpu_count(),
    }
    return [
        {
            "name": "desk_push",
            **common,
            "connected": connected,
            "failed": sum(r["failed"] for r in ready),
            "watchers": watchers,
            "connect_s": round(connect_s, 1),
            "dropped": sum(r["dropped"] for r in results),
            "messages": messages,
            "messages_per_s": round(messages / elapsed, 1),
            "mb_per_s": round(sum(r["bytes"] for r in results) / elapsed / 1e6, 2),
            "offers": len(offer_ms),
            "offer_to_screen_ms_p50": pct(offer_ms, 50),
            "offer_to_screen_ms_p99": pct(offer_ms, 99),
            "state_changes": len(state_ms),
            "state_to_screen_ms_p50": pct(state_ms, 50),
            "state_to_screen_ms_p99": pct(state_ms, 99),
        },
        {
            "name": "desk_core_latency",
            **common,
            "baseline_calls": base_calls,
            "connected_calls": conn_calls,
            "baseline_submit_ms_p50": pct(base_submit, 50),
            "baseline_submit_ms_p99": pct(base_submit, 99),
            "connected_submit_ms_p50": pct(conn_submit, 50),
            "connected_submit_ms_p99": pct(conn_submit, 99),
            "baseline_loop_lag_ms_p50": pct(base_lag, 50),
            "baseline_loop_lag_ms_p99": pct(base_lag, 99),
            "connected_loop_lag_ms_p50": pct(conn_lag, 50),
            "connected_loop_lag_ms_p99": pct(conn_lag, 99),
            "connected_loop_lag_ms_max": round(max(conn_lag), 1) if conn_lag else None,
        },
        {
            "name": "desk_cost",
            **common,
            "router_rss_kb_per_connection": round(per_conn_kb, 1),
            "router_cpu_pct_baseline": round(base_cpu * 100, 1),
            "router_cpu_pct_connected": round(conn_cpu * 100, 1),
            "router_cpu_pct_per_1000_connections": round((conn_cpu - base_cpu) * 100 / connected * 1000, 2),
            "router_cpu_ms_per_message": round((conn_cpu - base_cpu) * elapsed / max(1, messages) * 1000, 3),
            "generator_rss_kb_per_connection": round(sum(r["rss_kb"] for r in ready) / max(1, connected), 1),
            "generators_cpu_pct": round(gen_cpu * 100, 1),
            "note": "router and load generators share this machine's cores with other work",
            "submit_ms_ratio_p50": (
                round(median(conn_submit) / median(base_submit), 2) if base_submit and conn_submit else None
            ),
        },
    ]
