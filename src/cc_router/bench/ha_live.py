"""Surviving the router's own death, measured against the real Asterisk sandbox.

`failover_rows`: two `cc-router run` processes on a PostgreSQL store, one agent logged in
once. Each round: a standby comes up, the leader is SIGKILLed, a SIPp caller dials in at
once (it waits on hold while nobody leads) and the time from the SIGKILL to the first
agent leg the new leader originates for it is taken from Asterisk's own Newchannel event,
seen on a separate AMI session. The standby of one round leads the next.

`restart_row`: one `cc-router run` with N agents (all paused but one, logged out, sessions
stored in SQLite) and M SIPp callers on hold, SIGKILLed and started again: the time to
`/readyz` ready (config, sessions, AMI snapshot with every held caller re-admitted) and
to the first Originate once the logged-out agent logs in.

Both watch BridgeEnter/BridgeLeave: an agent in two bridges at once, or a caller bridged
twice, is a double bridge. Rows are counted in the store after the run: one per caller.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from cc_router.adapters.ami.protocol import parse_frame
from cc_router.adapters.ami.reads import held_in_inbound
from cc_router.bench.e2e import ControlAmi, prepare_sandbox
from cc_router.bench.sipp_load import SippLoad, run_sipp
from cc_router.sandbox import SandboxSettings
from cc_router.store import migrate
from cc_router.store.sessions import AgentSession, SessionStore
from cc_router.testing.live import SippCaller

TOKEN = "ha-bench-token"
NUMBER = "20099"
QUEUE = "ha_bench"
AGENT_PREFIX = "hb"
LEG = re.compile(rb"Uniqueid: ccr-[0-9a-f]+-[0-9]+\r\n")
AGENT_CHANNEL = re.compile(r"Local/(hb[0-9]+)@ccr-sim-agent")
HELD_SOURCE_IP = "127.0.0.3"
"""SIPp's address for the restart's held callers: the sandbox's PJSIP endpoint "bench-held"
(config/asterisk/pjsip.conf), ccr-inbound like any caller but in the music class
"ccr-bench-quiet", which plays nothing (music to 2,000 callers takes this machine's two
cores, and the router does not hear it)."""
CALLERS_HEAR = "silence: music-on-hold class ccr-bench-quiet (plays nothing, no RTP)"
HELD_CALLER_NUM = "13911111111"
HELD_BY = ("local", "sipp")
LOCAL_CALLERS = (
    "Local channel pairs originated by AMI: Local/<number>@ccr-inbound;2 runs ccr-inbound "
    "like a SIP caller (arrival, queue and priority stamped, CCREnqueue, BridgeWait), ;1 "
    "in Echo(); no SIP dialog, no RTP"
)
SIPP_CALLERS = "SIPp callers from 127.0.0.3 (PJSIP endpoint bench-held), no media"
LOCAL_HEAR = "nothing: CCR_MOH=none, the holding bridge without entertainment (no generator)"


def _config(agents: Sequence[str], settings: SandboxSettings, port: int) -> str:
    body = {
        "centre": {"name": f"ha benchmark ({len(agents)} agents)"},
        "skills": ["lang_zh"],
        "seat_pools": [{"name": "hb", "node": "sandbox", "endpoint_template": "Local/{id}@ccr-sim-agent"}],
        "agents": [{"id": a, "pool": "hb", "skills": {"lang_zh": 5}} for a in agents],
        "queues": [{"name": QUEUE, "requirement": "lang_zh", "ring_timeout_s": 15, "wrapup_s": 0}],
        "numbers": {NUMBER: {"queue": QUEUE}},
        "asterisk": [
            {
                "name": "sandbox",
                "host": "127.0.0.1",
                "port": settings.ami_port,
                "username": settings.ami_user,
                "secret": settings.ami_secret,
                "ping_interval_s": 1,
                "ping_timeout_s": 1,
                "reconnect_max_s": 2,
            }
        ],
        "http": {"host": "127.0.0.1", "port": port, "token": TOKEN},
        "logging": {"level": "info"},
    }
    return json.dumps(body)  # YAML reads JSON


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Proc:
    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()

    def lines(self, event: str) -> list[dict[str, Any]]:
        out = []
        for raw in self.log.read_bytes().splitlines():
            with contextlib.suppress(ValueError):
                line = json.loads(raw)
                if line.get("event") == event:
                    out.append(line)
        return out


def _start(config: str, store_url: str, tmp: Path, name: str, port: int) -> Proc:
    cfg = tmp / f"{name}.yaml"
    cfg.write_text(config, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CC_ROUTER_")}
    env["CC_ROUTER_JOURNAL_DIR"] = str(tmp / "journal")
    log = tmp / f"{name}.log"
    cli = str(Path(sys.executable).with_name("cc-router"))
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [cli, "run", "--config", str(cfg), "--store-url", store_url],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    return Proc(proc, port, log)


async def _role(client: httpx.AsyncClient, p: Proc) -> dict[str, Any]:
    try:
        body: dict[str, Any] = (await client.get(f"{p.url}/readyz", timeout=1)).json()
        return body
    except (httpx.HTTPError, ValueError):
        return {}


async def _until_role(client: httpx.AsyncClient, p: Proc, role: str, timeout_s: float) -> float:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        body = await _role(client, p)
        if body.get("role") == role and (role != "leader" or body.get("ready")):
            return time.monotonic()
        if p.proc.poll() is not None:
            raise RuntimeError(f"router exited: {p.log.read_text()[-2000:]}")
        await asyncio.sleep(0.01)
    raise TimeoutError(f"{p.url} not {role} within {timeout_s}s")


@dataclass
class Watch:
    """Newchannel of agent legs and the bridges agents and callers are in."""

    legs: list[float] = field(default_factory=list)
    agent_in: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    caller_bridges: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    double_bridges: int = 0

    def __call__(self, name: str, frame: bytes) -> None:
        if name == "Newchannel":
            if LEG.search(frame):
                self.legs.append(time.monotonic())
            return
        if name not in ("BridgeEnter", "BridgeLeave") or b"holding_bridge" in frame:
            return
        m = parse_frame(frame)
        bridge = m.get("BridgeUniqueid", "")
        agent = AGENT_CHANNEL.match(m.get("Channel", ""))
        if agent is not None:
            inside = self.agent_in[agent.group(1)]
            if name == "BridgeEnter":
                inside.add(bridge)
                if len(inside) > 1:
                    self.double_bridges += 1
            else:
                inside.discard(bridge)
        elif name == "BridgeEnter" and m.get("Context") == "ccr-inbound":
            seen = self.caller_bridges[m.get("Uniqueid", "")]
            seen.add(bridge)
            if len(seen) > 1:
                self.double_bridges += 1

    def first_leg_after(self, t: float) -> float | None:
        return next((x for x in self.legs if x >= t), None)


async def _wait(pred: Any, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not pred():
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark condition not met in time")
        await asyncio.sleep(0.01)


async def _count_rows(url: str) -> dict[str, int]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            rows = (
                await conn.execute(text("SELECT outcome, count(*) FROM interactions GROUP BY outcome"))
            ).all()
    finally:
        await engine.dispose()
    return {str(o): int(n) for o, n in rows}


STEPS = (
    ("config_loaded", "start_and_config"),
    ("service_started", "build"),
    ("state_restored", "leadership_store_sessions"),
    ("ami_logged_in", "ami_login"),
    ("ami_snapshot", "ami_snapshot"),
)
"""Log lines a starting router writes, in order; each step ends at its line."""


def _start_steps(p: Proc, killed_at: float, rebuilt_s: float) -> dict[str, float]:
    """Where the time from the SIGKILL to /readyz went, from the new process's log lines
    (their timestamps are wall clock, as is `killed_at`)."""
    out: dict[str, float] = {}
    last = 0.0
    for event, step in STEPS:
        lines = p.lines(event)
        if not lines:
            continue
        at = datetime.fromisoformat(lines[0]["timestamp"]).timestamp() - killed_at
        out[step] = round(at - last, 3)
        last = at
    out["until_ready_seen"] = round(rebuilt_s - last, 3)
    return out


def _pct(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)


async def failover_rows(
    pg_admin_url: str, failovers: int = 10, settings: SandboxSettings | None = None
) -> list[dict[str, Any]]:
    settings = settings or SandboxSettings()
    await asyncio.to_thread(prepare_sandbox, settings)
    name = f"ccr_ha_bench_{uuid.uuid4().hex[:8]}"
    admin = create_async_engine(pg_admin_url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = pg_admin_url.rsplit("/", 1)[0] + "/" + name
    agent = f"{AGENT_PREFIX}1"
    ami = ControlAmi(settings)
    watch = Watch()
    ami.tap = watch
    times: list[float] = []
    procs: list[Proc] = []
    callers: list[SippCaller] = []
    try:
        await ami.open()
        for key, val in (("ring", "0.2"), ("talk", "0.5"), ("answer", "1")):
            await ami.act({"Action": "DBPut", "Family": "ccrsim", "Key": f"{agent}/{key}", "Val": val})
        with tempfile.TemporaryDirectory(prefix="ccr-ha-") as tmpdir:
            tmp = Path(tmpdir)
            async with httpx.AsyncClient() as client:

                def start(i: int) -> Proc:
                    port = _free_port()
                    p = _start(_config([agent], settings, port), url, tmp, f"r{i}", port)
                    procs.append(p)
                    return p

                leader = start(0)
                await _until_role(client, leader, "leader", 60)
                r = await client.post(
                    f"{leader.url}/api/agents/{agent}/login", headers={"Authorization": f"Bearer {TOKEN}"}
                )
                r.raise_for_status()
                for i in range(failovers):
                    standby = start(i + 1)
                    await _until_role(client, standby, "standby", 60)
                    killed = time.monotonic()
                    leader.kill()
                    caller = await SippCaller(settings, NUMBER, 30000, num=f"1390000{i:04d}").start()
                    callers.append(caller)
                    await _wait(lambda k=killed: watch.first_leg_after(k) is not None, 30)
                    first = watch.first_leg_after(killed)
                    assert first is not None
                    times.append(first - killed)
                    await caller.wait(30)
                    leader = standby
                leader.stop()
    finally:
        for p in procs:
            p.stop()
        for c in callers:
            c.kill()
        await ami.close()
    rows = await _count_rows(url)
    async with admin.connect() as conn:
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    await admin.dispose()
    return [
        {
            "name": "ha_failover_first_originate",
            "failovers": len(times),
            "p50_s": _pct(times, 0.5),
            "max_s": round(max(times), 3) if times else None,
            "each_s": [round(t, 3) for t in times],
            "calls": len(callers),
            "answered_rows": rows.get("answered", 0),
            "calls_lost": len(callers) - rows.get("answered", 0),
            "rows_lost": len(callers) - sum(rows.values()),
            "double_bridges": watch.double_bridges,
        }
    ]


async def _hold_local(ami: ControlAmi, callers: int, rate: float) -> None:
    """`callers` callers on hold in ccr-inbound, `rate` a second, as Local channel pairs.

    A fair stand-in for a SIP caller as the router sees it: ;2 is a channel in ccr-inbound
    that runs the same dialplan (Answer, CCR_ARRIVED/CCR_PRIORITY stamped, the UserEvent
    CCREnqueue, BridgeWait in its own holding bridge with the quiet music class) and that
    the router admits, finds in CoreShowChannels after a restart, reads with Getvar and
    bridges to an agent leg, like any caller; ;1 is one more channel whose events the
    router has to read and ignore (so the router's side is, if anything, heavier), idle in
    Echo() (it hears nothing, so echoes nothing). What it
    leaves out is Asterisk's SIP and RTP work per call, which the router never sees and
    which is what this 2-core machine cannot carry for 2,000 SIPp callers. They wait with
    CCR_MOH=none, the holding bridge without entertainment: even the silent music class
    wakes every held channel 50 times a second, and 2,000 of those saturated both cores
    (load average over 1,000)."""
    step = max(1, int(rate / 10))
    for start in range(0, callers, step):
        began = time.monotonic()
        replies = await ami.batch(
            {
                "Action": "Originate",
                "Channel": f"Local/{NUMBER}@ccr-inbound/n",
                # Echo, not Wait: Wait() runs the sandbox's silence generator
                # (transmit_silence), a 50-a-second timer on every ;1.
                "Application": "Echo",
                "CallerID": f'"held {n}" <{HELD_CALLER_NUM}>',
                "Variable": "CCR_MOH=none",
                "Async": "true",
            }
            for n in range(start, min(callers, start + step))
        )
        refused = [r for r in replies if isinstance(r, dict) and r.get("Response") != "Success"]
        if refused:
            raise RuntimeError(f"Originate of held callers refused: {refused[0].get('Message', '?')}")
        await asyncio.sleep(max(0.0, 0.1 - (time.monotonic() - began)))


async def restart_row(
    agents: int = 20_000,
    callers: int = 2_000,
    settings: SandboxSettings | None = None,
    keep_logs: Path | None = None,
    held_by: str = "local",
) -> dict[str, Any]:
    """`keep_logs`: copy the routers' logs there (they live in a temporary directory).
    `held_by`: "local" (Local channel pairs, see `_hold_local`) or "sipp" (SIP callers)."""
    if held_by not in HELD_BY:
        raise ValueError(f"held_by must be one of {HELD_BY}, not {held_by!r}")
    settings = settings or SandboxSettings()
    await asyncio.to_thread(prepare_sandbox, settings)
    ids = [f"{AGENT_PREFIX}{n:05d}" for n in range(1, agents + 1)]
    server = ids[0]
    ami = ControlAmi(settings)
    watch = Watch()
    ami.tap = watch
    with tempfile.TemporaryDirectory(prefix="ccr-ha-restart-") as tmpdir:
        tmp = Path(tmpdir)
        url = f"sqlite+aiosqlite:///{tmp}/store.db"
        await migrate(url)
        engine = create_async_engine(url)
        try:
            store = SessionStore(engine)
            since = time.time() - 600
            for aid in ids[1:]:
                store.put(AgentSession(aid, "paused", "break", since, None, None))
            await store.flush()
        finally:
            await engine.dispose()
        port = _free_port()
        config = _config(ids, settings, port)
        procs: list[Proc] = []
        sipp: asyncio.Task[Any] | None = None
        row: dict[str, Any] = {
            "name": "ha_restart",
            "agents": agents,
            "callers": callers,
            "callers_are": LOCAL_CALLERS if held_by == "local" else SIPP_CALLERS,
            "callers_hear": CALLERS_HEAR if held_by == "sipp" else LOCAL_HEAR,
        }
        try:
            await ami.open()
            for key, val in (("ring", "0.2"), ("talk", "0.5"), ("answer", "1")):
                await ami.act({"Action": "DBPut", "Family": "ccrsim", "Key": f"{server}/{key}", "Val": val})
            async with httpx.AsyncClient() as client:
                first = _start(config, url, tmp, "first", port)
                procs.append(first)
                await _until_role(client, first, "leader", 120)
                held_at = time.monotonic()
                if held_by == "sipp":
                    load = SippLoad(
                        NUMBER,
                        # Asterisk's manager queue falls behind at 200 new callers a second
                        # on this machine (CCREnqueue events arrive minutes late).
                        rate=50,
                        calls=callers,
                        hold_ms=180_000,
                        caller_num=HELD_CALLER_NUM,
                        source_ip=HELD_SOURCE_IP,
                    )
                    sipp = asyncio.create_task(run_sipp(load, tmp))
                else:
                    await _hold_local(ami, callers, rate=100)
                try:
                    await _wait(lambda: len(first.lines("queued")) >= callers, 60 + callers / 100)
                except TimeoutError:
                    reply = await ami.act({"Action": "CoreShowChannels"})
                    on_hold = sum(
                        1
                        for m in (reply if isinstance(reply, list) else [])
                        if m.get("CallerIDNum") == HELD_CALLER_NUM and held_in_inbound(m)
                    )
                    raise RuntimeError(
                        f"{len(first.lines('queued'))} of {callers} callers queued, {on_hold} channels up"
                    ) from None
                row["hold_all_s"] = round(time.monotonic() - held_at, 3)
                first.kill()
                killed = time.monotonic()
                killed_at = time.time()
                again = _start(config, url, tmp, "again", port)
                procs.append(again)
                rebuilt = await _until_role(client, again, "leader", 120)
                r = await client.post(
                    f"{again.url}/api/agents/{server}/login", headers={"Authorization": f"Bearer {TOKEN}"}
                )
                r.raise_for_status()
                await _wait(lambda: watch.first_leg_after(killed) is not None, 30)
                routed = watch.first_leg_after(killed)
                assert routed is not None
                (snap,) = again.lines("ami_snapshot")[-1:]
                row.update(
                    rebuilt_s=round(rebuilt - killed, 3),
                    routing_s=round(routed - killed, 3),
                    steps_s=_start_steps(again, killed_at, rebuilt - killed),
                    readmitted=snap.get("found", 0) + snap.get("adopted", 0),
                    calls_lost=callers - (snap.get("found", 0) + snap.get("adopted", 0)),
                )
                await asyncio.sleep(2)
                # Every caller hangs up: one row each.
                reply = await ami.act({"Action": "CoreShowChannels"})
                mine = [
                    m
                    for m in (reply if isinstance(reply, list) else [])
                    if m.get("CallerIDNum") == HELD_CALLER_NUM
                ]
                row["on_hold_after"] = sum(1 for m in mine if held_in_inbound(m))
                # Both halves of a Local pair: hanging up either ends the other.
                held = [m["Channel"] for m in mine]
                await ami.batch({"Action": "Hangup", "Channel": ch} for ch in held)
                await asyncio.sleep(3)
                again.stop()
        finally:
            for p in procs:
                p.stop()
                if keep_logs is not None:
                    keep_logs.mkdir(parents=True, exist_ok=True)
                    (keep_logs / p.log.name).write_bytes(p.log.read_bytes())
            await ami.close()
            if sipp is not None:
                sipp.cancel()
                with contextlib.suppress(BaseException):
                    await sipp
        rows = await _count_rows(url)
    row.update(
        rows=sum(rows.values()), rows_lost=callers - sum(rows.values()), double_bridges=watch.double_bridges
    )
    return row


__all__ = ["failover_rows", "restart_row"]
