"""The router's own CPU per routed call, live: `cc-router run` in its own process.

The router runs as a deployment runs it (store, HTTP, live view, metrics, decision log in
JSON lines to a file), beside the real Asterisk sandbox, with N simulated agents logged
in over HTTP. SIPp drives calls from its own process; this process only watches: it reads
the router's CPU from /proc/<pid>/stat (every thread, and the event loop's thread alone),
keeps one wallboard stream (SSE) open and scrapes /metrics every few seconds, as a
wallboard and Prometheus would. Latency comes from Asterisk's own clock on this process's
AMI session: CCREnqueue (the caller is on hold) to the Newchannel of the leg to the
agent the router's decision log says it offered the caller to.

With `--profile PATH`, py-spy samples the router (`--native`, so time inside uvloop's C
code shows) during the run and the samples are summed by part of the router
(`profile_parts`); a profiled run's CPU figures include py-spy's pauses, so CPU is taken
from a run without it.

With `--wakeups`, one more run per rate has the event loop's thread under strace, and the
row gives its wake-ups per call by source (`loop_wakeups_per_call_by_source`, wakeups.py).

`python -m cc_router.bench.live_router [--agents N] [--rate R] [--seconds S] [--profile P]
[--wakeups]`;
needs root (the sandbox) and must hold /tmp/ccr-asterisk.lock.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from cc_router.bench import cpu_parts
from cc_router.bench.asterisk_cpu import CLK_TCK, HostWindow, ms_per, parse_stat_cpu_ticks
from cc_router.bench.e2e import (
    CALLER_NUM,
    CCR_NUMBER,
    CCR_SOURCE_IP,
    ControlAmi,
    E2eParams,
    agent_ids,
    ccrouter_config,
    cleanup,
    hang_up_leftovers,
    header,
    percentile,
    prepare_sandbox,
    set_agent_behaviour,
)
from cc_router.bench.sipp_load import SippLoad, run_sipp
from cc_router.bench.wakeups import Wakeups, name_fds, syscall_summary
from cc_router.sandbox import SandboxSettings

TOKEN = "live-bench-token"
PARTS_FILE = "cpu_parts.json"
CLI = str(Path(sys.executable).with_name("cc-router"))

PARTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    # Innermost match wins: a structlog frame under the decision log counts as logging.
    ("decision log and logging", ("structlog", "cc_router/logs/", "logging/")),
    ("metrics", ("prometheus_client", "cc_router/http/metrics")),
    ("store submit and writer", ("cc_router/store/", "sqlalchemy", "aiosqlite", "sqlite3")),
    ("live view", ("cc_router/live/",)),
    ("HTTP and SSE", ("cc_router/http/", "starlette", "uvicorn", "sse_starlette", "h11", "anyio")),
    ("routing core", ("cc_router/core/",)),
    ("AMI read and parse", ("cc_router/adapters/ami/protocol", "cc_router/adapters/ami/connection")),
    ("AMI adapter (events in, commands out)", ("cc_router/adapters/ami/",)),
    ("service (submit, sinks, ticker)", ("cc_router/service",)),
    ("other cc_router parts", ("cc_router/",)),
    ("asyncio (Python)", ("asyncio/",)),
)


def part_of(frames: Sequence[str]) -> str:
    """The part a sampled stack (root first) belongs to: its innermost recognised frame
    below the event loop's own run loop (`uv_run`); a stack with none is the event
    loop's C code (polling, reading sockets, timers) or the interpreter."""
    inside = [i for i, f in enumerate(frames) if f.startswith("uv_run ")]
    below = frames[inside[-1] + 1 :] if inside else frames
    for frame in reversed(below):
        for part, marks in PARTS:
            if any(m in frame for m in marks):
                return part
    if inside:
        return "event loop (uvloop C, no Python frame of ours)"
    return "other (interpreter, threads)"


def on_event_loop(frames: Sequence[str]) -> bool:
    """A sample of the event loop's thread (its stacks run under `run_until_complete`);
    other threads (the SQLite worker, executor threads) mostly wait, and py-spy cannot
    always tell a timed wait from work, so their CPU comes from /proc instead."""
    return any("run_until_complete" in f for f in frames)


def profile_parts(collapsed: Iterable[str]) -> dict[str, float]:
    """Share of the event loop thread's samples per part, from py-spy's `--format raw`
    (collapsed stacks) lines; `samples` is how many there were."""
    counts: Counter[str] = Counter()
    for line in collapsed:
        stack, _, n = line.rstrip("\n").rpartition(" ")
        if not stack or not n.isdigit():
            continue
        frames = stack.split(";")
        if on_event_loop(frames):
            counts[part_of(frames)] += int(n)
    total = sum(counts.values()) or 1
    out = {k: round(v / total, 4) for k, v in counts.most_common()}
    out["samples"] = float(sum(counts.values()))
    return out


def thread_cpu_s(pid: int) -> dict[str, float]:
    """CPU seconds per thread name of `pid` (threads of one name summed)."""
    out: dict[str, float] = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            stat = Path(f"/proc/{pid}/task/{tid}/stat").read_text(encoding="ascii", errors="replace")
        except FileNotFoundError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        if tid == str(pid):
            name = "event loop"
        out[name] = out.get(name, 0.0) + parse_stat_cpu_ticks(stat) / CLK_TCK
    return out


def loop_wakeups(pid: int) -> int:
    """Times the event loop's thread went to sleep and was woken (voluntary context
    switches): each is an epoll wait that returned, what "the loop waking up" costs."""
    for line in Path(f"/proc/{pid}/task/{pid}/status").read_text().splitlines():
        if line.startswith("voluntary_ctxt_switches:"):
            return int(line.split()[1])
    return 0


@dataclass
class LegTap:
    """CCREnqueue by caller and agent legs' Newchannel by agent, on Asterisk's clock.

    The router's decision log says which agent each caller was offered to; the agent's
    first leg created after the caller's CCREnqueue is that offer's Originate."""

    enqueued: dict[str, float] = field(default_factory=dict)
    legs: dict[str, list[float]] = field(default_factory=dict)

    def __call__(self, name: str, frame: bytes) -> None:
        if name == "UserEvent":
            if header(frame, b"UserEvent") == "CCREnqueue":
                uid, ts = header(frame, b"Uniqueid"), header(frame, b"Timestamp")
                if uid and ts:
                    self.enqueued.setdefault(uid, float(ts))
        elif name == "Newchannel":
            channel, ts = header(frame, b"Channel"), header(frame, b"Timestamp")
            if channel and ts and channel.startswith("Local/") and channel.endswith(";1"):
                agent = channel[6:].split("@", 1)[0]
                self.legs.setdefault(agent, []).append(float(ts))

    def waits_ms(self, offers: Iterable[tuple[str, str]]) -> dict[str, float]:
        """Caller -> ms from its CCREnqueue to the first leg to its offered agent after it."""
        out: dict[str, float] = {}
        for iid, agent in offers:
            t0 = self.enqueued.get(iid)
            if t0 is None or iid in out:
                continue
            later = [t for t in self.legs.get(agent, ()) if t >= t0]
            if later:
                out[iid] = 1000.0 * (min(later) - t0)
        return out


def offers_logged(lines: Iterable[str]) -> list[tuple[str, str]]:
    """(interaction, agent) of every `offer` line of the router's JSON decision log."""
    out = []
    for line in lines:
        if '"offer"' not in line:
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if rec.get("event") == "offer" and "interaction_id" in rec:
            out.append((str(rec["interaction_id"]), str(rec.get("agent_id", ""))))
    return out


def router_config(
    agents: Sequence[str],
    settings: SandboxSettings,
    store_url: str,
    port: int,
    event_batch_s: float | None = None,
) -> dict[str, Any]:
    config = ccrouter_config(agents, settings, store_url, port)
    config["http"]["token"] = TOKEN
    config["logging"] = {"level": "info", "json": True}
    if event_batch_s is not None:
        config["asterisk"][0]["event_batch_s"] = event_batch_s
    return config


PG_ADMIN_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


@contextlib.asynccontextmanager
async def store_for(kind: str, work: Path) -> AsyncIterator[str]:
    """The router's store URL: a SQLite file in `work`, or a PostgreSQL database of its
    own on the local server (made and dropped here), as a centre of this size runs it."""
    if kind == "sqlite":
        yield f"sqlite+aiosqlite:///{work}/store.db"
        return
    import sqlalchemy as sa
    from sqlalchemy.ext.asyncio import create_async_engine

    name = f"ccr_live_{os.getpid()}_{int(time.time())}"
    admin = create_async_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        async with admin.connect() as conn:
            await conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


async def wait_ready(client: httpx.AsyncClient, proc: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"cc-router exited with {proc.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            if (await client.get("/readyz")).status_code == 200:
                return
        await asyncio.sleep(0.5)
    raise RuntimeError("cc-router not ready in time")


async def log_in(port: int, agents: Sequence[str], parallel: int = 100) -> None:
    """Every agent logged in over the API, as desktops would; each login waits for the
    store, so many go at once. Plain HTTP/1.1 on keep-alive connections: httpx's URL
    handling cost this process more CPU per request than the router spent answering it,
    so 20,000 logins took minutes. A connection the server closed is opened again."""
    todo = list(agents)

    async def worker() -> None:
        reader: asyncio.StreamReader | None = None
        writer: asyncio.StreamWriter | None = None
        while todo:
            aid = todo.pop()
            for attempt in range(5):
                try:
                    if writer is None or reader is None:
                        reader, writer = await asyncio.open_connection("127.0.0.1", port)
                    writer.write(
                        f"POST /api/agents/{aid}/login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                        f"Authorization: Bearer {TOKEN}\r\nContent-Length: 0\r\n\r\n".encode()
                    )
                    head = await reader.readuntil(b"\r\n\r\n")
                    status = int(head.split(b" ", 2)[1])
                    length = 0
                    for line in head.split(b"\r\n"):
                        if line.lower().startswith(b"content-length:"):
                            length = int(line.split(b":", 1)[1])
                    body = await reader.readexactly(length)
                    if b"connection: close" in head.lower():
                        writer.close()
                        reader = writer = None
                    break
                except (OSError, asyncio.IncompleteReadError):
                    if writer is not None:
                        writer.close()
                    reader = writer = None
                    if attempt == 4:
                        raise
                    await asyncio.sleep(0.2)
            if status != 200:
                raise RuntimeError(f"login {aid}: {status} {body[:200]!r}")
        if writer is not None:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(parallel)))


async def watch_surfaces(client: httpx.AsyncClient, stop: asyncio.Event) -> int:
    """One wallboard stream open and /metrics scraped every 5 s until `stop`; bytes read."""
    got = 0

    async def stream() -> None:
        nonlocal got
        with contextlib.suppress(httpx.HTTPError):
            async with client.stream("GET", "/api/stream") as r:
                async for chunk in r.aiter_bytes():
                    got += len(chunk)

    task = asyncio.create_task(stream())
    try:
        while not stop.is_set():
            # A scrape on a keep-alive connection the server just closed fails; the next
            # one goes on a fresh connection, as Prometheus would retry.
            with contextlib.suppress(httpx.HTTPError):
                got += len((await client.get("/metrics")).content)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 5.0)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
            await task
    return got


async def idle_cost(client: httpx.AsyncClient, pid: int, seconds: float) -> dict[str, float]:
    """The router's CPU per second with every agent logged in and no calls, the wallboard
    stream open and /metrics scraped: what it costs whatever the call rate (at R calls/s,
    this / R of each call's figure)."""
    stop = asyncio.Event()
    surfaces = asyncio.create_task(watch_surfaces(client, stop))
    before, woken = sum(thread_cpu_s(pid).values()), loop_wakeups(pid)
    t0 = time.monotonic()
    await asyncio.sleep(seconds)
    used = sum(thread_cpu_s(pid).values()) - before
    woken = loop_wakeups(pid) - woken
    wall = time.monotonic() - t0
    stop.set()
    await surfaces
    return {
        "idle_cpu_ms_per_s": round(1000.0 * used / wall, 2),
        "idle_loop_wakeups_per_s": round(woken / wall),
    }


async def run_live(
    agents: int, rates: Sequence[int], seconds: float, profile: Path | None, keep: Path | None,
    on_row: Callable[[dict[str, Any]], None] | None = None, wakeups: bool = False,
    syscalls: bool = False, router_cpus: str = "", parts: bool = False,
    event_batch_s: float | None = None, store: str = "sqlite",
) -> list[dict[str, Any]]:  # fmt: skip
    settings = SandboxSettings()
    params = E2eParams(agents=agents)
    ast_pid = await asyncio.to_thread(prepare_sandbox, settings)
    ids = agent_ids(agents)
    rows: list[dict[str, Any]] = []
    async with contextlib.AsyncExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ccr-live-")))
        store_url = await stack.enter_async_context(store_for(store, work))
        ami = ControlAmi(settings)
        await ami.open()
        proc: subprocess.Popen[bytes] | None = None
        try:
            await ami.events("off")
            await hang_up_leftovers(ami)
            await set_agent_behaviour(ami, ids, params)
            port = _free_port()
            cfg = work / "centre.yaml"
            cfg.write_text(json.dumps(router_config(ids, settings, store_url, port, event_batch_s)))
            env = {k: v for k, v in os.environ.items() if not k.startswith("CC_ROUTER_")}
            env["CC_ROUTER_JOURNAL_DIR"] = str(work / "journal")
            log_path = work / "router.log"
            pin = ["taskset", "-c", router_cpus] if router_cpus else []
            # With `parts`, the same command under the per-part counters (cpu_parts.py).
            cmd = (
                [sys.executable, "-m", "cc_router.bench.cpu_parts", str(work / PARTS_FILE)]
                if parts
                else [CLI]
            )
            with log_path.open("wb") as log_file:
                proc = subprocess.Popen(
                    [*pin, *cmd, "run", "--config", str(cfg)],
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                    env=env,
                )
            headers = {"Authorization": f"Bearer {TOKEN}"}
            limits = httpx.Limits(max_connections=120)
            async with httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=60.0, limits=limits
            ) as client:
                await wait_ready(client, proc, 120.0)
                t0 = time.monotonic()
                await log_in(port, ids)
                login_s = time.monotonic() - t0
                await asyncio.sleep(2.0)
                idle = await idle_cost(client, proc.pid, 10.0)
                # CPU from runs without py-spy (its pauses cost the router too); then one
                # profiled run at the first rate.
                # With `wakeups`, one more run per rate under strace (its CPU is inflated too).
                plan: list[tuple[int, Path | None, tuple[int, int] | None]] = [(r, None, None) for r in rates]
                plan += [(rates[0], profile, None)] if profile else []
                plan += [(r, None, (settings.ami_port, port)) for r in rates] if wakeups else []
                # With `syscalls`, one more at the first rate under `strace -c -f` (all threads).
                plan += [(rates[0], None, (0, 0))] if syscalls else []
                for rate, spy, trace in plan:
                    rows.append(
                        await one_rate(
                            ami, client, proc.pid, ast_pid, rate, seconds, params, work, spy, trace
                        )
                    )
                    rows[-1]["login_s"] = round(login_s, 1)
                    rows[-1]["store"] = store
                    rows[-1]["event_batch_s"] = event_batch_s
                    rows[-1].update(idle)
                    if on_row is not None:
                        on_row(rows[-1])
                    await asyncio.sleep(params.talk_s + 2)
        finally:
            if proc is not None:
                proc.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(30)
                if proc.poll() is None:
                    proc.kill()
                if keep is not None:
                    shutil.copy(work / "router.log", keep)
            await ami.close()
            await asyncio.sleep(0.5)
            await cleanup(settings, ids)
    return rows


async def one_rate(
    ami: ControlAmi, client: httpx.AsyncClient, pid: int, ast_pid: int, rate: int, seconds: float,
    params: E2eParams, work: Path, profile: Path | None, trace: tuple[int, int] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """One run at `rate`; `trace` (AMI port, HTTP port): the loop thread under strace, for
    its wake-ups by source (wakeups.py)."""
    calls = max(1, round(rate * seconds))
    tap = LegTap()
    log_lines: list[str] = []
    log_mark = 0
    with contextlib.suppress(FileNotFoundError):
        log_mark = len((work / "router.log").read_text(encoding="utf-8", errors="replace").splitlines())
    await ami.events("user,call")
    ami.tap = tap
    stop = asyncio.Event()
    surfaces = asyncio.create_task(watch_surfaces(client, stop))
    load = SippLoad(
        number=CCR_NUMBER, rate=rate, calls=calls, hold_ms=params.hold_ms,
        source_ip=CCR_SOURCE_IP, caller_num=CALLER_NUM,
    )  # fmt: skip
    spy: subprocess.Popen[bytes] | None = None
    raw = work / f"profile_{rate}.txt"
    if profile is not None:
        spy = subprocess.Popen(
            [str(Path(sys.executable).with_name("py-spy")), "record", "--native", "--pid", str(pid),
             "--rate", "200", "--format", "raw", "--threads", "--output", str(raw),
             "--duration", str(int(seconds) + 2)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
    tracer: subprocess.Popen[bytes] | None = None
    traced = work / f"epoll_{rate}.strace"
    count_syscalls = trace == (0, 0)
    if trace is not None:
        what = ["-c", "-f"] if count_syscalls else ["-ttt", "-T", "-e", "trace=epoll_wait,epoll_pwait"]
        tracer = subprocess.Popen(
            ["strace", "-qq", "-p", str(pid), *what, "-o", str(traced)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        await asyncio.sleep(0.5)
    parts0 = cpu_parts.read(work / PARTS_FILE)
    threads0 = thread_cpu_s(pid)
    wakeups0 = loop_wakeups(pid)
    cpu = HostWindow(ast_pid).start()
    router0 = sum(threads0.values())
    sipp = await run_sipp(load, work)
    cpu.stop()
    threads1 = thread_cpu_s(pid)
    wakeups = loop_wakeups(pid) - wakeups0
    parts1: cpu_parts.Counters = {}
    if (work / PARTS_FILE).exists():
        await asyncio.sleep(1.1)  # the counters are written every second
        parts1 = cpu_parts.read(work / PARTS_FILE)
    router_s = sum(threads1.values()) - router0
    sources: dict[str, int] = {}
    by_sleep: dict[str, dict[str, float]] = {}
    traced_wakeups: int | None = None
    syscall_rows: dict[str, dict[str, float]] = {}
    if tracer is not None and trace is not None:
        fds = name_fds(pid, *trace)
        tracer.send_signal(2)
        with contextlib.suppress(subprocess.TimeoutExpired):
            tracer.wait(10)
        text = traced.read_text(errors="replace") if traced.exists() else ""
        if count_syscalls:
            syscall_rows = syscall_summary(text, sipp.created)
        else:
            woke = Wakeups().feed(text.splitlines())
            sources, traced_wakeups = woke.by_source(fds), woke.total
            by_sleep = woke.by_sleep(sipp.created)
    deadline = time.monotonic() + 10
    while sum(map(len, tap.legs.values())) < sipp.created and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    stop.set()
    surface_bytes = await surfaces
    ami.tap = None
    await ami.events("off")
    parts: dict[str, float] = {}
    if spy is not None:
        spy.wait(60)
        if raw.exists():
            parts = profile_parts(raw.read_text().splitlines())
            assert profile is not None
            shutil.copy(raw, profile.with_name(f"{profile.stem}_{rate}cps{profile.suffix}"))
    with contextlib.suppress(FileNotFoundError):
        log_lines = (work / "router.log").read_text(encoding="utf-8", errors="replace").splitlines()
    offers = offers_logged(log_lines[log_mark:])
    per_call = tap.waits_ms(offers)
    waits = list(per_call.values())
    routed = len(per_call)
    per_thread = {
        k: ms_per(v - threads0.get(k, 0.0), routed)
        for k, v in sorted(threads1.items())
        if v - threads0.get(k, 0.0) > 0
    }
    return {
        "name": f"live_router_{params.agents}_{rate}cps",
        "agents": params.agents,
        "rate": rate,
        "calls": calls,
        "sipp_created": sipp.created,
        "enqueued": len(tap.enqueued),
        "routed": routed,
        "lost": sipp.created - routed,
        "router_cpu_ms_per_call": ms_per(router_s, routed),
        "router_cpu_ms_per_call_by_thread": per_thread,
        "router_busy_pct": round(100.0 * router_s / cpu.wall_s, 1) if cpu.wall_s else None,
        "loop_wakeups_per_call": round(wakeups / routed, 1) if routed else None,
        "loop_wakeups_per_s": round(wakeups / cpu.wall_s) if cpu.wall_s else None,
        "asterisk_enqueue_to_agent_leg_p50_ms": _r(percentile(waits, 50)),
        "asterisk_enqueue_to_agent_leg_p99_ms": _r(percentile(waits, 99)),
        "asterisk_cpu_ms_per_call": ms_per(cpu.asterisk_s, sipp.created),
        "other_load_cores": round(cpu.other_cores, 2),
        "host_busy_pct": round(cpu.host_busy_pct, 1),
        "wall_s": round(cpu.wall_s, 2),
        "surface_bytes_read": surface_bytes,
        "profiled": profile is not None,
        "profile_parts": parts,
        "traced": trace is not None,
        # Under strace: the loop's wake-ups per routed call by what woke it (wakeups.py).
        "traced_loop_wakeups_per_call": round(traced_wakeups / routed, 2)
        if traced_wakeups and routed
        else None,
        "loop_wakeups_per_call_by_source": {k: round(v / routed, 2) for k, v in sources.items()}
        if routed
        else {},
        # Under strace: wake-ups per call by how long the loop slept before, and its busy
        # time after each (wall time, inflated by tracing).
        "traced_loop_wakeups_by_sleep": by_sleep,
        # Under `strace -c -f`: system calls per call, busiest first.
        "syscalls_per_call": syscall_rows,
        # With --parts: the event loop thread's CPU per part per routed call (cpu_parts.py).
        "cpu_parts_per_call": cpu_parts.per_call(parts0, parts1, routed) if parts1 else {},
    }


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main(argv: Sequence[str]) -> None:
    p = argparse.ArgumentParser(prog="python -m cc_router.bench.live_router")
    p.add_argument("--agents", type=int, default=20_000)
    p.add_argument("--rate", type=int, action="append")
    p.add_argument("--seconds", type=float, default=30.0)
    p.add_argument("--profile", type=Path)
    p.add_argument("--keep-log", type=Path)
    p.add_argument("--wakeups", action="store_true", help="one more run per rate under strace")
    p.add_argument("--syscalls", action="store_true", help="one more run under strace -c -f")
    p.add_argument("--parts", action="store_true", help="per-part CPU counters in the router (cpu_parts.py)")
    p.add_argument(
        "--router-cpus", default="",
        help="run the router on these CPUs only (taskset list, e.g. 1); start this command "
        "itself under `taskset -c 0` to keep Asterisk and SIPp off them",
    )  # fmt: skip
    p.add_argument(
        "--event-batch-s", type=float, default=None,
        help="the node's event_batch_s (default: the config's default; 0: one session, no batches)",
    )  # fmt: skip
    p.add_argument("--store", choices=("sqlite", "postgresql"), default="sqlite")
    a = p.parse_args(argv)
    import uvloop

    def show(row: dict[str, Any]) -> None:
        print(json.dumps(row, ensure_ascii=False), flush=True)

    uvloop.run(
        run_live(
            a.agents,
            a.rate or [30],
            a.seconds,
            a.profile,
            a.keep_log,
            show,
            a.wakeups,
            a.syscalls,
            a.router_cpus,
            a.parts,
            a.event_batch_s,
            a.store,
        )
    )


if __name__ == "__main__":
    main(sys.argv[1:])
