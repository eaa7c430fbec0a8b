"""Figures for surviving a restart: restoring agent sessions into a fresh core, and a
standby taking over from a SIGKILLed leader.

`restore_row`: N agents with stored sessions (half ready, a quarter paused with a
maximum, some with live skills); the time to read them from the store and put a freshly
built router back in that state. `failover_rows`: two `cc-router run` processes on a
PostgreSQL store (no Asterisk): leader SIGKILLed → the standby's /readyz says it routes.
With Asterisk the new leader still has to log in and read its snapshot; the first
Originate after a failover, and a restart beside thousands of held callers, are measured
against the real Asterisk in `ha_live.py`."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from cc_router.config.generate import generate_centre
from cc_router.core import Router
from cc_router.ha.sessions import restore_events
from cc_router.store import migrate
from cc_router.store.sessions import AgentSession, SessionStore


async def restore_row(agents: int = 20_000, url: str | None = None) -> dict[str, Any]:
    centre = generate_centre(agents=agents, skills=100, queues=60)
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        url = url or f"sqlite+aiosqlite:///{tmp}/restore.db"
        await migrate(url)
        engine = create_async_engine(url)
        try:
            store = SessionStore(engine)
            now = time.time()
            for a in centre.agents:
                roll = rng.random()
                presence = "ready" if roll < 0.5 else "paused" if roll < 0.75 else "logged_out"
                skills = dict(a.skills) if rng.random() < 0.05 else None
                store.put(
                    AgentSession(
                        a.id,
                        presence,
                        "break" if presence == "paused" else "",
                        now - rng.uniform(0, 3600),
                        900.0 if presence == "paused" else None,
                        skills,
                    )
                )
            await store.flush()
            t0 = time.perf_counter()
            router = Router(centre)
            built = time.perf_counter()
            sessions, queues = await SessionStore(engine).load()
            loaded = time.perf_counter()
            for e in restore_events(centre, sessions, queues):
                router.handle(e, now)
            done = time.perf_counter()
        finally:
            await engine.dispose()
    logged_in = sum(1 for a in router.agents.values() if str(a.presence) != "logged_out")
    return {
        "name": "ha_restore",
        "agents": agents,
        "logged_in": logged_in,
        "build_s": round(built - t0, 3),
        "load_s": round(loaded - built, 3),
        "restore_s": round(done - loaded, 3),
        "total_s": round(done - t0, 3),
    }


_CONFIG = """
centre: {name: failover bench}
skills: [billing]
agents:
  - {id: "1001", skills: {billing: 1}}
queues:
  - {name: billing, requirement: billing}
http: {host: 127.0.0.1, port: %d, token: bench-token}
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _readyz(port: int) -> dict[str, Any]:
    import httpx

    try:
        body: dict[str, Any] = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).json()
        return body
    except (httpx.HTTPError, ValueError):
        return {}


def _wait_leader(port: int, timeout_s: float) -> float:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        body = _readyz(port)
        if body.get("role") == "leader" and body.get("ready"):
            return time.monotonic()
        time.sleep(0.01)
    raise TimeoutError(f"no leader on port {port} within {timeout_s}s")


def failover_rows(admin_url: str, failovers: int = 10) -> list[dict[str, Any]]:
    name = f"ccr_failover_bench_{uuid.uuid4().hex[:8]}"

    async def admin(sql: str) -> None:
        engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as conn:
                await conn.execute(text(sql))
        finally:
            await engine.dispose()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    url = admin_url.rsplit("/", 1)[0] + "/" + name
    cli = str(Path(sys.executable).with_name("cc-router"))
    procs: list[tuple[subprocess.Popen[bytes], int]] = []
    times: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CC_ROUTER_")}
        env["CC_ROUTER_JOURNAL_DIR"] = f"{tmp}/journal"

        def start(i: int) -> tuple[subprocess.Popen[bytes], int]:
            port = _free_port()
            cfg = Path(tmp) / f"r{i}.yaml"
            cfg.write_text(_CONFIG % port, encoding="utf-8")
            proc = subprocess.Popen(
                [cli, "run", "--config", str(cfg), "--store-url", url],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=env,
            )
            return proc, port

        try:
            procs.append(start(0))
            _wait_leader(procs[0][1], 30)
            for i in range(failovers):
                procs.append(start(i + 1))
                standby_port = procs[-1][1]
                deadline = time.monotonic() + 30
                while _readyz(standby_port).get("role") != "standby":
                    if time.monotonic() > deadline:
                        raise TimeoutError("standby did not come up")
                    time.sleep(0.02)
                leader, _ = procs[-2]
                killed = time.monotonic()
                leader.send_signal(signal.SIGKILL)
                leader.wait()
                times.append(_wait_leader(standby_port, 30) - killed)
        finally:
            for proc, _ in procs:
                if proc.poll() is None:
                    proc.terminate()
                    proc.wait(15)
            asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    ordered = sorted(times)
    return [
        {
            "name": "ha_failover_ready",
            "failovers": len(times),
            "p50_s": round(ordered[len(ordered) // 2], 3) if ordered else None,
            "max_s": round(ordered[-1], 3) if ordered else None,
            "each_s": [round(t, 3) for t in times],
        }
    ]


__all__ = ["failover_rows", "restore_row"]
