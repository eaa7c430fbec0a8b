"""End-to-end benchmark against the real Asterisk sandbox: cc-router beside app_queue.

Identical SIPp traffic (tests/sipp/caller.xml, N calls at R calls/s) goes once into
Asterisk's own app_queue (queue `apq`, 2,000 `Local/<id>@ccr-sim-agent` members added with
QueueAdd; SIPp from 127.0.0.2 -> endpoint bench-apq -> dialplans/ccr-bench.conf) and once
into ccr-inbound (SIPp from 127.0.0.1 -> endpoint trunk), where cc-router, running in this
process with the same 2,000 simulated agents, routes it over AMI.

Simulated agents answer at once (AstDB `ccrsim/<id>/ring` = 0) and hang up after a short
talk, so the agents are never exhausted; the keys are per agent (not `ccrsim/default`) so
tests running against the same sandbox keep their defaults. Everything added (members,
AstDB keys) is removed afterwards.

Rows (JSON lines):
- `e2e_app_queue_<R>cps`: Asterisk CPU per call, QueueCallerJoin -> AgentCalled latency
  (both Asterisk `Timestamp`s), connected (AgentConnect) count.
- `e2e_ccrouter_<R>cps`: CCREnqueue frame arrival -> Originate written to the socket
  (this process's monotonic clock), router process CPU per routed call, Asterisk CPU per
  call, lost calls; plus CCREnqueue -> agent-leg Newchannel on Asterisk's clock, the
  figure comparable with app_queue's join -> called; the router CPU again from a replay
  of the same AMI bytes (`router_cpu_ms_per_call_replay`, host noise excluded, see
  ami_replay.py); `stuck_surrogate_channels`: channels the run left in Asterisk.

Every row carries `other_load_cores` (CPU used by processes outside the benchmark during
the run): the host is shared, and latencies from a run beside other load say little.
The two sides run interleaved per rate (app_queue, then cc-router) so both see similar
background load.

`e2e_side_by_side_<agents>_<R>cps`: the two sides' figures of the same run beside each other.
`run_large_rows`: the 20,000-agent case (30 calls/s for 30 s, app_queue with 20,000 members;
`app_queue_members_load_s` is how long Asterisk took to add them, bounded by
`E2eParams.members_load_timeout_s`).

`python -m cc_router.bench.e2e [rates...|large]`; needs root (the sandbox).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import re
import socket
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog
from pydantic import SecretStr

from cc_router.adapters.ami.connection import AmiConnection, AmiError, Reply
from cc_router.adapters.ami.protocol import AmiProtocol
from cc_router.bench.ami_replay import replay_cpu_s
from cc_router.bench.asterisk_cpu import CpuWindow, HostWindow, ms_per
from cc_router.bench.sipp_load import SippLoad, SippResult, run_sipp
from cc_router.config import Config
from cc_router.sandbox import SandboxSettings, ensure_sipp, status, up
from cc_router.sandbox import down as sandbox_down
from cc_router.sandbox.provision import RESTART_ON_CHANGE, cli, install_config

log = structlog.get_logger("cc_router.bench.e2e")

AGENT_PREFIX = "ccrb"
APQ_QUEUE = "apq"
CCR_QUEUE = "bench"
CCR_NUMBER = "55500"
APQ_NUMBER = "55501"
APQ_SOURCE_IP = "127.0.0.2"
CCR_SOURCE_IP = "127.0.0.1"
CALLER_NUM = "13900000077"
"""Every benchmark caller has this number: leftovers are found (and only ours hung up) by it."""
APQ_EVENTS = frozenset({"QueueCallerJoin", "AgentCalled", "AgentConnect", "QueueCallerAbandon"})


@dataclass(frozen=True)
class E2eParams:
    agents: int = 2000
    ring_s: int = 0
    talk_s: int = 2
    """Short: at 100 calls/s about 100 * (talk + set-up) agents are busy, and the sandbox's
    2,000 RTP sessions (node 1) must hold every caller at once."""
    hold_ms: int = 20_000
    """A caller still unanswered after this hangs up (counted as abandoned, not lost)."""
    settle_s: float = 20.0
    idle_s: float = 2.0
    seconds_of_traffic: float = 6.0
    """Calls per rate when not given: rate x this (300 at 50/s, 600 at 100/s)."""
    members_load_timeout_s: float = 300.0
    """Bound on adding every agent to app_queue's queue (QueueAdd, then QueueStatus to
    check): at 20,000 members Asterisk answers the adds slowly, and a run that cannot load
    them fails with this said rather than holding the shared sandbox for ever."""


def calls_for(rate: int, calls: int | Mapping[int, int] | None, params: E2eParams) -> int:
    if calls is None:
        return max(1, round(rate * params.seconds_of_traffic))
    if isinstance(calls, int):
        return calls
    return calls[rate]


def agent_ids(count: int, prefix: str = AGENT_PREFIX) -> list[str]:
    """Ids the ccr-sim-agent dialplan accepts (letters and digits, 2+ characters)."""
    width = max(4, len(str(count)))
    return [f"{prefix}{i:0{width}d}" for i in range(1, count + 1)]


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def latencies_ms(starts: Mapping[str, float], ends: Mapping[str, float]) -> list[float]:
    """(end - start) in ms for every key present in both (seconds in, ms out)."""
    return [1000.0 * (ends[k] - t0) for k, t0 in starts.items() if k in ends]


def _r(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def header(frame: bytes, name: bytes) -> str | None:
    """One header's value straight from a raw AMI message (no full parse)."""
    m = re.search(rb"(?:^|\r\n)" + re.escape(name) + rb": ([^\r\n]*)", frame)
    return m.group(1).decode("utf-8", "replace") if m else None


def ccrouter_config(
    agents: Sequence[str], settings: SandboxSettings, store_url: str, http_port: int
) -> dict[str, Any]:
    """One voice queue served by every agent, the benchmark number routed to it."""
    return {
        "centre": {"name": f"e2e benchmark ({len(agents)} agents)"},
        "skills": ["lang_zh"],
        "seat_pools": [{"name": "bench", "node": "sandbox", "endpoint_template": "Local/{id}@ccr-sim-agent"}],
        "agents": [{"id": a, "pool": "bench", "skills": {"lang_zh": 5}} for a in agents],
        "queues": [{"name": CCR_QUEUE, "requirement": "lang_zh", "ring_timeout_s": 15}],
        "numbers": {CCR_NUMBER: {"queue": CCR_QUEUE}},
        "asterisk": [
            {
                "name": "sandbox",
                "host": "127.0.0.1",
                "port": settings.ami_port,
                "username": settings.ami_user,
                "secret": settings.ami_secret,
            }
        ],
        "store": {"url": store_url},
        "http": {"host": "127.0.0.1", "port": http_port},
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --------------------------------------------------------------------------- sandbox


def prepare_sandbox(settings: SandboxSettings) -> int:
    """Sandbox running with this repository's config (incl. bench-apq); returns Asterisk's pid.

    A running sandbox whose pjsip.conf or dialplans changed is reloaded, not restarted as
    `up()` would: a restart would cut the calls of tests running against it."""
    if not status(settings).running:
        up(settings)
    else:
        changed = install_config(settings)
        if changed & (RESTART_ON_CHANGE - {"pjsip.conf"}):
            sandbox_down(settings)
            up(settings)
        elif changed:
            cli(settings, "core reload")
            time.sleep(1.0)
        if "bench-apq" not in cli(settings, "pjsip show identifies"):
            sandbox_down(settings)
            up(settings)
    ensure_sipp()
    pid = status(settings).pid
    if pid is None:
        raise RuntimeError("the Asterisk sandbox is not running")
    return pid


class ControlAmi:
    """The benchmark's own AMI session: setup actions in batches, plus an event tap."""

    def __init__(self, settings: SandboxSettings) -> None:
        self.settings = settings
        self.tap: Callable[[str, bytes], None] | None = None
        self.conn = AmiConnection(
            "127.0.0.1",
            settings.ami_port,
            settings.ami_user,
            SecretStr(settings.ami_secret),
            on_event=self._on_event,
            ping_interval_s=30.0,
            ping_timeout_s=10.0,
            name="bench-ctl",
        )

    def _on_event(self, name: str, frame: bytes) -> None:
        if self.tap is not None:
            self.tap(name, frame)

    async def open(self) -> None:
        await self.conn.connect()

    async def act(self, action: Mapping[str, str]) -> Reply:
        return await asyncio.wait_for(self.conn.send_action(action), 30.0)

    async def batch(self, actions: Iterable[Mapping[str, str]], chunk: int = 400) -> list[Reply]:
        """Send in chunks (Asterisk answers one session's actions in order)."""
        out: list[Reply] = []
        pending: list[Awaitable[Reply]] = []
        for a in actions:
            pending.append(self.conn.send_action(a))
            if len(pending) >= chunk:
                out.extend(await asyncio.wait_for(asyncio.gather(*pending), 60.0))
                pending = []
        if pending:
            out.extend(await asyncio.wait_for(asyncio.gather(*pending), 60.0))
        return out

    async def events(self, mask: str) -> None:
        await self.act({"Action": "Events", "EventMask": mask})

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.conn.send_action({"Action": "Logoff"}), 2.0)
        self.conn.close("benchmark done")


def _failed(replies: Sequence[Reply]) -> list[str]:
    return [r.get("Message", "?") for r in replies if isinstance(r, dict) and r.get("Response") != "Success"]


async def set_agent_behaviour(ami: ControlAmi, agents: Sequence[str], params: E2eParams) -> None:
    actions = [
        {"Action": "DBPut", "Family": "ccrsim", "Key": f"{a}/{key}", "Val": str(val)}
        for a in agents
        for key, val in (("ring", params.ring_s), ("talk", params.talk_s), ("answer", 1))
    ]
    bad = _failed(await ami.batch(actions))
    if bad:
        raise RuntimeError(f"DBPut failed {len(bad)} times: {bad[:3]}")


async def clear_agent_behaviour(ami: ControlAmi, agents: Sequence[str]) -> None:
    await ami.batch({"Action": "DBDelTree", "Family": "ccrsim", "Key": a} for a in agents)


async def apq_members(ami: ControlAmi) -> list[str]:
    reply = await ami.act({"Action": "QueueStatus", "Queue": APQ_QUEUE})
    items = reply if isinstance(reply, list) else []
    return [
        m.get("StateInterface") or m.get("Location", "")
        for m in items
        if m.get("Event") == "QueueMember" and m.get("Queue") == APQ_QUEUE
    ]


async def remove_apq_members(ami: ControlAmi, interfaces: Iterable[str]) -> None:
    await ami.batch({"Action": "QueueRemove", "Queue": APQ_QUEUE, "Interface": i} for i in interfaces)


async def hang_up_leftovers(ami: ControlAmi) -> int:
    """Hang up channels this benchmark made that are still up (a failed run)."""
    reply = await ami.act({"Action": "CoreShowChannels"})
    items = reply if isinstance(reply, list) else []
    ours = [
        m["Channel"]
        for m in items
        if m.get("Event") == "CoreShowChannel"
        and (
            m.get("CallerIDNum") == CALLER_NUM
            or m.get("Channel", "").startswith((f"Local/{AGENT_PREFIX}", "PJSIP/bench-apq-"))
        )
    ]
    if ours:
        await ami.batch({"Action": "Hangup", "Channel": ch} for ch in ours)
    return len(ours)


def stuck_surrogates(settings: SandboxSettings) -> int:
    """`Surrogate/...` channels: what Bridge(<caller>) leaves when its yank of the caller
    goes wrong. Normally gone within milliseconds; under CPU saturation some stay for good
    (no hangup removes them), so each run reports how many more there are after it."""
    return sum(
        1
        for line in cli(settings, "core show channels concise").splitlines()
        if line.startswith("Surrogate/")
    )


async def _idle_pct(pid: int, seconds: float) -> float:
    w = CpuWindow(pid).start()
    await asyncio.sleep(seconds)
    return round(w.stop().busy_pct, 2)


async def _settle(done: Callable[[], bool], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not done() and time.monotonic() < deadline:
        await asyncio.sleep(0.1)


# --------------------------------------------------------------------------- app_queue


@dataclass
class ApqTap:
    """QueueCallerJoin/AgentCalled/... of one run, by caller Uniqueid, on Asterisk's clock."""

    joined: dict[str, float] = field(default_factory=dict)
    called: dict[str, float] = field(default_factory=dict)
    connected: set[str] = field(default_factory=set)
    abandoned: set[str] = field(default_factory=set)

    def __call__(self, name: str, frame: bytes) -> None:
        if name not in APQ_EVENTS:
            return
        uid = header(frame, b"Uniqueid")
        ts = header(frame, b"Timestamp")
        if uid is None:
            return
        if name == "QueueCallerJoin" and ts is not None:
            self.joined[uid] = float(ts)
        elif name == "AgentCalled" and ts is not None:
            self.called.setdefault(uid, float(ts))
        elif name == "AgentConnect":
            self.connected.add(uid)
        elif name == "QueueCallerAbandon":
            self.abandoned.add(uid)


async def run_app_queue(
    ami: ControlAmi, pid: int, rate: int, calls: int, params: E2eParams, workdir: Path
) -> dict[str, Any]:
    tap = ApqTap()
    idle = await _idle_pct(pid, params.idle_s)
    ami.tap = tap
    load = SippLoad(
        number=APQ_NUMBER,
        rate=rate,
        calls=calls,
        hold_ms=params.hold_ms,
        source_ip=APQ_SOURCE_IP,
        caller_num=CALLER_NUM,
    )
    cpu = HostWindow(pid).start()
    sipp = await run_sipp(load, workdir)
    cpu.stop()
    await _settle(lambda: len(tap.connected) + len(tap.abandoned) >= sipp.created, 5.0)
    ami.tap = None
    waits = latencies_ms(tap.joined, tap.called)
    return {
        "name": f"e2e_app_queue_{rate}cps",
        "agents": params.agents,
        "calls": calls,
        "rate": rate,
        "sipp_created": sipp.created,
        "sipp_failed": sipp.failed,
        "joined": len(tap.joined),
        "connected": len(tap.connected),
        "abandoned": len(tap.abandoned),
        "lost": sipp.created - len(tap.connected) - len(tap.abandoned),
        "join_to_called_p50_ms": _r(percentile(waits, 50)),
        "p99_ms": _r(percentile(waits, 99)),
        "max_ms": _r(max(waits) if waits else None),
        **_cpu_fields(cpu, sipp.created, idle),
    }


def _cpu_fields(cpu: HostWindow, calls: int, asterisk_idle_pct: float) -> dict[str, Any]:
    return {
        "asterisk_cpu_ms_per_call": ms_per(cpu.asterisk_s, calls),
        "asterisk_busy_pct": round(100.0 * cpu.asterisk_s / cpu.wall_s, 1) if cpu.wall_s else None,
        "asterisk_idle_pct": asterisk_idle_pct,
        "sipp_cpu_ms_per_call": ms_per(cpu.children_s, calls),
        "host_busy_pct": round(cpu.host_busy_pct, 1),
        # CPU taken by processes outside this benchmark (other tests): high values mean
        # the latencies above were measured on a contended host.
        "other_load_cores": round(cpu.other_cores, 2),
        "wall_s": round(cpu.wall_s, 2),
    }


async def load_apq_members(ami: ControlAmi, agents: Sequence[str]) -> None:
    """Every agent a member of `apq` (QueueAdd, then QueueStatus to check the count)."""
    replies = await ami.batch(
        {"Action": "QueueAdd", "Queue": APQ_QUEUE, "Interface": f"Local/{a}@ccr-sim-agent",
         "MemberName": a, "Paused": "false"}
        for a in agents
    )  # fmt: skip
    bad = _failed(replies)
    if bad:
        raise RuntimeError(f"QueueAdd failed {len(bad)} times: {bad[:3]}")
    members = await apq_members(ami)
    if len(members) != len(agents):
        raise RuntimeError(f"apq has {len(members)} members, wanted {len(agents)}")


async def app_queue_phase(
    ami: ControlAmi, pid: int, rates: Sequence[int], calls: int | Mapping[int, int] | None,
    params: E2eParams, agents: Sequence[str], workdir: Path,
) -> list[dict[str, Any]]:  # fmt: skip
    await ami.events("agent")
    rows: list[dict[str, Any]] = []
    try:
        await remove_apq_members(ami, await apq_members(ami))
        t0 = time.monotonic()
        try:
            await asyncio.wait_for(load_apq_members(ami, agents), params.members_load_timeout_s)
        except TimeoutError:
            raise RuntimeError(
                f"app_queue did not take {len(agents)} members in {params.members_load_timeout_s:.0f} s"
            ) from None
        load_s = time.monotonic() - t0
        for rate in rates:
            rows.append(await run_app_queue(ami, pid, rate, calls_for(rate, calls, params), params, workdir))
            rows[-1]["members_load_s"] = round(load_s, 1)
            await asyncio.sleep(params.talk_s + 1)
    finally:
        ami.tap = None
        if ami.conn.connected:
            await remove_apq_members(ami, await apq_members(ami))
            await ami.events("off")
    return rows


# --------------------------------------------------------------------------- cc-router


@dataclass
class RouterProbe:
    """Timestamps of one run: this process's monotonic clock and Asterisk's Timestamp."""

    arrived: dict[str, float] = field(default_factory=dict)
    """CCREnqueue: arrival of the TCP read that carried the frame."""
    submitted: dict[str, float] = field(default_factory=dict)
    offered: dict[str, float] = field(default_factory=dict)
    written: dict[str, float] = field(default_factory=dict)
    """First Originate for the interaction written to the AMI socket."""
    ast_enqueue: dict[str, float] = field(default_factory=dict)
    ast_agent_channel: dict[str, float] = field(default_factory=dict)
    connected: set[str] = field(default_factory=set)
    abandoned: set[str] = field(default_factory=set)
    finished: set[str] = field(default_factory=set)
    writes: int = 0
    """transport.write calls on the router's AMI socket (actions are coalesced)."""
    ami_events: int = 0
    ami_bytes: int = 0
    actions: Counter[str] = field(default_factory=Counter)
    """AMI actions written by the router, by name."""
    recording: bool = False
    reads: list[bytes] = field(default_factory=list)
    """What the router's AMI socket delivered during the run, read by read (for the replay)."""

    def reset(self) -> None:
        for d in (self.arrived, self.submitted, self.offered, self.written, self.ast_enqueue,
                  self.ast_agent_channel):  # fmt: skip
            d.clear()
        for s in (self.connected, self.abandoned, self.finished):
            s.clear()
        self.reads.clear()


def instrument(service: Any, node: Any, probe: RouterProbe) -> Callable[[], None]:
    """Listener, sink and wrappers around the node's handlers; returns the undo."""
    from cc_router.core import commands as cmd
    from cc_router.core import events as ev

    def listener(event: Any, _now: float) -> None:
        if isinstance(event, ev.InteractionArrived):
            # Read by the main session or, first, by the arrivals session: the one whose
            # read is being handled is the one that read last.
            arrivals = node.supervisor.arrivals
            reads = [c.last_rx for c in (node.conn, arrivals and arrivals.conn) if c is not None]
            probe.arrived[event.interaction_id] = max(reads) if reads else time.monotonic()
            probe.submitted[event.interaction_id] = time.monotonic()
        elif isinstance(event, ev.InteractionAbandoned):
            probe.abandoned.add(event.interaction_id)

    def sink(commands: Sequence[Any], _now: float) -> None:
        for c in commands:
            if isinstance(c, cmd.Offer):
                probe.offered.setdefault(c.interaction_id, time.monotonic())
            elif isinstance(c, cmd.InteractionConnected):
                probe.connected.add(c.interaction_id)
            elif isinstance(c, cmd.InteractionFinished):
                probe.finished.add(c.interaction_id)

    service.listeners.insert(0, listener)
    # Before the AMI node's sink: the Offer time is taken before its Originate is queued.
    service.sinks.insert(0, sink)

    handlers, user_handlers = node.ami_in.handlers, node.ami_in.user_handlers
    orig_enqueue = user_handlers["CCREnqueue"]
    orig_newchannel = handlers["Newchannel"]

    def on_enqueue(msg: Mapping[str, str], now: float) -> Any:
        ts = msg.get("Timestamp")
        if ts:
            probe.ast_enqueue[f"{node.ami_in.prefix}{msg.get('Uniqueid', '')}"] = float(ts)
        return orig_enqueue(msg, now)

    def on_newchannel(frame: bytes, now: float) -> Any:
        effects = orig_newchannel(frame, now)
        uid = header(frame, b"Uniqueid")
        leg = node.registry.leg_by_uid.get(uid) if uid else None
        if leg is not None and uid == leg.channel_id:
            ts = header(frame, b"Timestamp")
            if ts is not None:
                probe.ast_agent_channel.setdefault(leg.iid, float(ts))
        return effects

    orig_on_event = node.supervisor.on_event

    def on_event(name: str, frame: bytes) -> None:
        probe.ami_events += 1
        probe.ami_bytes += len(frame) + 4
        orig_on_event(name, frame)

    user_handlers["CCREnqueue"] = on_enqueue
    handlers["Newchannel"] = on_newchannel
    # The connection is made in node.run() and takes the supervisor's on_event then.
    node.supervisor.on_event = on_event

    real_send = AmiConnection.send_action
    unwritten: list[str] = []

    def send_action(self: AmiConnection, action: Mapping[str, Any], **kw: Any) -> asyncio.Future[Reply]:
        fut = real_send(self, action, **kw)
        probe.actions[str(action.get("Action"))] += 1
        if action.get("Action") == "Originate":
            leg = node.registry.leg_by_action.get(str(action.get("ActionID", "")))
            if leg is not None:
                unwritten.append(leg.iid)
        return fut

    AmiConnection.send_action = send_action  # type: ignore[method-assign]

    # Writes are coalesced (connection.py): an Originate is "written" when the bytes carrying
    # it reach the transport, not when it is handed to the connection.
    real_send_bytes = AmiProtocol.send_bytes

    def send_bytes(self: AmiProtocol, data: bytes) -> None:
        real_send_bytes(self, data)
        if unwritten and node.conn is not None and self is node.conn.protocol:
            probe.writes += 1
            now = time.monotonic()
            for iid in unwritten:
                probe.written.setdefault(iid, now)
            unwritten.clear()
        elif node.conn is not None and self is node.conn.protocol:
            probe.writes += 1

    AmiProtocol.send_bytes = send_bytes  # type: ignore[method-assign]

    real_received = AmiProtocol.data_received

    def data_received(self: AmiProtocol, data: bytes) -> None:
        if probe.recording and node.conn is not None and self is node.conn.protocol:
            probe.reads.append(data)
        real_received(self, data)

    AmiProtocol.data_received = data_received  # type: ignore[method-assign]

    def undo() -> None:
        AmiConnection.send_action = real_send  # type: ignore[method-assign]
        AmiProtocol.send_bytes = real_send_bytes  # type: ignore[method-assign]
        AmiProtocol.data_received = real_received  # type: ignore[method-assign]
        user_handlers["CCREnqueue"] = orig_enqueue
        handlers["Newchannel"] = orig_newchannel
        node.supervisor.on_event = orig_on_event
        service.listeners.remove(listener)
        service.sinks.remove(sink)

    return undo


async def run_ccrouter(
    node: Any, probe: RouterProbe, pid: int, rate: int, calls: int, params: E2eParams, workdir: Path,
    config: Config, agents: Sequence[str], settings: SandboxSettings,
) -> dict[str, Any]:  # fmt: skip
    probe.reset()
    surrogates0 = await asyncio.to_thread(stuck_surrogates, settings)
    router_idle0 = time.process_time()
    idle = await _idle_pct(pid, params.idle_s)
    router_idle_pct = 100.0 * (time.process_time() - router_idle0) / params.idle_s
    load = SippLoad(
        number=CCR_NUMBER,
        rate=rate,
        calls=calls,
        hold_ms=params.hold_ms,
        source_ip=CCR_SOURCE_IP,
        caller_num=CALLER_NUM,
    )
    events0, bytes0, actions0, writes0 = probe.ami_events, probe.ami_bytes, probe.actions.copy(), probe.writes
    probe.recording = True
    loop_cpu0 = time.thread_time()
    times0 = os.times()
    cpu = HostWindow(pid).start()
    sipp: SippResult = await run_sipp(load, workdir)
    cpu.stop()
    router_cpu = cpu.self_s
    loop_cpu = time.thread_time() - loop_cpu0
    sys_cpu = os.times().system - times0.system
    await _settle(lambda: not node.registry.by_iid, params.settle_s)
    probe.recording = False
    surrogates = await asyncio.to_thread(stuck_surrogates, settings) - surrogates0
    replay_s, replay_calls = await replay_cpu_s(config, probe.reads, agents)
    total = latencies_ms(probe.arrived, probe.written)
    in_router = latencies_ms(probe.submitted, probe.offered)
    to_send = latencies_ms(probe.offered, probe.written)
    ast = latencies_ms(probe.ast_enqueue, probe.ast_agent_channel)
    routed = len(probe.connected)
    return {
        "name": f"e2e_ccrouter_{rate}cps",
        "agents": params.agents,
        "calls": calls,
        "rate": rate,
        "sipp_created": sipp.created,
        "sipp_failed": sipp.failed,
        # CCREnqueue frames that reached the node vs interactions it admitted: tells a
        # lost call that Asterisk never reported from one the adapter dropped.
        "ccrenqueue_frames": len(probe.ast_enqueue),
        "enqueued": len(probe.arrived),
        "routed": routed,
        "abandoned": len(probe.abandoned),
        "lost": sipp.created - routed - len(probe.abandoned),
        "stuck_surrogate_channels": surrogates,
        "enqueue_to_originate_p50_ms": _r(percentile(total, 50)),
        "p99_ms": _r(percentile(total, 99)),
        "max_ms": _r(max(total) if total else None),
        "submit_to_offer_p50_ms": _r(percentile(in_router, 50)),
        "submit_to_offer_p99_ms": _r(percentile(in_router, 99)),
        "offer_to_written_p50_ms": _r(percentile(to_send, 50)),
        "offer_to_written_p99_ms": _r(percentile(to_send, 99)),
        "asterisk_enqueue_to_agent_channel_p50_ms": _r(percentile(ast, 50)),
        "asterisk_enqueue_to_agent_channel_p99_ms": _r(percentile(ast, 99)),
        "router_cpu_ms_per_call": ms_per(router_cpu, routed),
        # The event loop's thread only (the router proper); the rest of router_cpu is the
        # store's SQL thread and other helper threads.
        "router_loop_cpu_ms_per_call": ms_per(loop_cpu, routed),
        # Kernel time (socket reads/writes; loopback TCP delivery is charged to the sender).
        "router_sys_cpu_ms_per_call": ms_per(sys_cpu, routed),
        "router_idle_pct": round(router_idle_pct, 2),
        # Same AMI bytes replayed through a fresh service, host noise excluded (ami_replay.py).
        "router_cpu_ms_per_call_replay": ms_per(replay_s, replay_calls),
        "ami_events_per_call": _r((probe.ami_events - events0) / sipp.created if sipp.created else None, 1),
        "ami_kb_per_call": _r((probe.ami_bytes - bytes0) / 1024 / sipp.created if sipp.created else None, 2),
        "ami_writes_per_call": _r((probe.writes - writes0) / sipp.created if sipp.created else None, 2),
        "ami_actions_per_call": {
            k: round(v / sipp.created, 2) for k, v in (probe.actions - actions0).most_common() if sipp.created
        },
        **_cpu_fields(cpu, sipp.created, idle),
    }


async def ccrouter_phase(
    settings: SandboxSettings, pid: int, rates: Sequence[int], calls: int | Mapping[int, int] | None,
    params: E2eParams, agents: Sequence[str], workdir: Path,
) -> list[dict[str, Any]]:  # fmt: skip
    from cc_router.config import parse_config
    from cc_router.config.models import LoggingConfig
    from cc_router.core import events as ev
    from cc_router.logs import configure_logging
    from cc_router.wiring import build

    store_url = f"sqlite+aiosqlite:///{workdir / 'store.db'}"
    config = parse_config(ccrouter_config(agents, settings, store_url, _free_port()), source="<e2e bench>")
    # Production logging (JSON, info) into a file: its cost is part of the router's CPU,
    # and stdout stays for the benchmark rows.
    log_file = (workdir / "service.log").open("w", encoding="utf-8")
    configure_logging(LoggingConfig.model_validate({"level": "info", "json": True}), stream=log_file)
    built = build(config, store_url_override=store_url)
    service, node = built.service, built.nodes[0]
    # Tests may be using the same sandbox: their callers (other numbers) are not ours to
    # hang up.
    node.exit_unknown_numbers = False
    probe = RouterProbe()
    undo = instrument(service, node, probe)
    runner = asyncio.create_task(service.run(), name="service")
    rows: list[dict[str, Any]] = []
    try:
        deadline = time.monotonic() + 30
        while not node.ready:
            if runner.done() or time.monotonic() > deadline:
                raise RuntimeError(f"AMI node not ready: {node.health()}")
            await asyncio.sleep(0.1)
        for a in agents:
            service.submit(ev.AgentLoggedIn(a))
        await asyncio.sleep(0.5)
        for rate in rates:
            rows.append(
                await run_ccrouter(
                    node,
                    probe,
                    pid,
                    rate,
                    calls_for(rate, calls, params),
                    params,
                    workdir,
                    config,
                    agents,
                    settings,
                )
            )
            await asyncio.sleep(1.0)
    finally:
        undo()
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await runner
        # Loggers bound during the run stay cached on the file: it is left open (and
        # deleted with the work directory); later loggers write warnings to stderr.
        configure_logging(LoggingConfig.model_validate({"level": "warning", "json": True}), stream=sys.stderr)
    return rows


# --------------------------------------------------------------------------- entry


async def cleanup(settings: SandboxSettings, agents: Sequence[str]) -> None:
    """Leave the sandbox as found: no apq members, no benchmark channels, no AstDB keys.

    On a fresh session, since the run's may have died with an Asterisk restarted by
    someone else (AstDB keys survive a restart)."""
    ami = ControlAmi(settings)
    for attempt in range(20):
        try:
            await ami.open()
            break
        except (OSError, TimeoutError, AmiError) as exc:
            if attempt == 19:
                log.error("bench_cleanup_no_ami", error=str(exc))
                return
            ami = ControlAmi(settings)
            await asyncio.sleep(1.0)
    try:
        await ami.events("off")
        await remove_apq_members(ami, await apq_members(ami))
        left = await hang_up_leftovers(ami)
        if left:
            log.warning("bench_leftover_channels_hung_up", count=left)
        await clear_agent_behaviour(ami, agents)
    finally:
        await ami.close()


async def run_e2e(
    rates: Sequence[int] = (50, 100),
    calls: int | Mapping[int, int] | None = None,
    agents: int = 2000,
    params: E2eParams | None = None,
    settings: SandboxSettings | None = None,
) -> list[dict[str, Any]]:
    from cc_router.config.models import LoggingConfig
    from cc_router.logs import configure_logging

    # stdout carries only the rows.
    configure_logging(LoggingConfig.model_validate({"level": "warning", "json": True}), stream=sys.stderr)
    settings = settings or SandboxSettings()
    params = params or E2eParams(agents=agents)
    pid = await asyncio.to_thread(prepare_sandbox, settings)
    ids = agent_ids(params.agents)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="ccr-e2e-") as tmp:
        workdir = Path(tmp)
        ami = ControlAmi(settings)
        await ami.open()
        try:
            await ami.events("off")
            await hang_up_leftovers(ami)
            t0 = time.monotonic()
            await set_agent_behaviour(ami, ids, params)
            behaviour_s = time.monotonic() - t0
            # Interleaved per rate, so both sides see the same background load.
            for rate in rates:
                rows += await app_queue_phase(ami, pid, (rate,), calls, params, ids, workdir)
                rows += await ccrouter_phase(settings, pid, (rate,), calls, params, ids, workdir)
            for row in rows:
                row["agent_setup_s"] = round(behaviour_s, 1)
        finally:
            await ami.close()
            await asyncio.sleep(0.5)
            await cleanup(settings, ids)
    order = {r: i for i, r in enumerate(rates)}
    rows.sort(
        key=lambda row: (order.get(int(row["rate"]), 0), not str(row["name"]).startswith("e2e_ccrouter"))
    )
    return rows


def side_by_side(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per rate with each figure as {"ccrouter": .., "app_queue": ..} from the same
    run: calls lost, the enqueue -> agent leg on Asterisk's clock (app_queue: join ->
    AgentCalled; cc-router: CCREnqueue -> agent leg Newchannel), Asterisk CPU per call, and
    the router's CPU per routed call (app_queue has none: it is Asterisk)."""
    by_rate: dict[int, dict[str, Mapping[str, Any]]] = {}
    for row in rows:
        side = "ccrouter" if str(row["name"]).startswith("e2e_ccrouter") else "app_queue"
        by_rate.setdefault(int(row["rate"]), {})[side] = row
    out: list[dict[str, Any]] = []
    for rate, sides in by_rate.items():
        ccr, apq = sides.get("ccrouter", {}), sides.get("app_queue", {})
        agents = ccr.get("agents", apq.get("agents"))
        out.append(
            {
                "name": f"e2e_side_by_side_{agents}_{rate}cps",
                "agents": agents,
                "rate": rate,
                "calls": {"ccrouter": ccr.get("sipp_created"), "app_queue": apq.get("sipp_created")},
                "lost": {"ccrouter": ccr.get("lost"), "app_queue": apq.get("lost")},
                "abandoned": {"ccrouter": ccr.get("abandoned"), "app_queue": apq.get("abandoned")},
                "enqueue_to_agent_leg_p50_ms": {
                    "ccrouter": ccr.get("asterisk_enqueue_to_agent_channel_p50_ms"),
                    "app_queue": apq.get("join_to_called_p50_ms"),
                },
                "enqueue_to_agent_leg_p99_ms": {
                    "ccrouter": ccr.get("asterisk_enqueue_to_agent_channel_p99_ms"),
                    "app_queue": apq.get("p99_ms"),
                },
                "asterisk_cpu_ms_per_call": {
                    "ccrouter": ccr.get("asterisk_cpu_ms_per_call"),
                    "app_queue": apq.get("asterisk_cpu_ms_per_call"),
                },
                # In this process (beside the taps); `live` measures `cc-router run` alone.
                "router_cpu_ms_per_call": ccr.get("router_cpu_ms_per_call"),
                "router_cpu_ms_per_call_replay": ccr.get("router_cpu_ms_per_call_replay"),
                "enqueue_to_originate_p99_ms": ccr.get("p99_ms"),
                "app_queue_members_load_s": apq.get("members_load_s"),
                "other_load_cores": {
                    "ccrouter": ccr.get("other_load_cores"),
                    "app_queue": apq.get("other_load_cores"),
                },
            }
        )
    return out


def run_e2e_rows(
    rates: Sequence[int] = (50, 100), calls: int | Mapping[int, int] | None = None, agents: int = 2000
) -> list[dict[str, Any]]:
    """Run the benchmark (about 2 minutes) and return its rows; `calls` per rate, default
    rate x 6 s (300 at 50/s, 600 at 100/s)."""
    import uvloop

    return uvloop.run(run_e2e(rates, calls, agents))


LARGE_AGENTS = 20_000
LARGE_RATE = 30
LARGE_SECONDS = 30
"""The large centre's case: 20,000 agents (app_queue: 20,000 members), 30 calls/s for 30 s."""


def run_large_rows() -> list[dict[str, Any]]:
    """The 20,000-agent case, both sides in one run, then their side-by-side row (about
    6 minutes, most of it Asterisk taking and dropping 20,000 members and AstDB keys)."""
    rows = run_e2e_rows((LARGE_RATE,), {LARGE_RATE: LARGE_RATE * LARGE_SECONDS}, LARGE_AGENTS)
    return rows + side_by_side(rows)


def main(argv: Sequence[str]) -> None:
    """`[rates...]` at 2,000 agents (default 50 100); `large`: the 20,000-agent case."""
    if argv == ["large"]:
        rows = run_large_rows()
    else:
        rows = run_e2e_rows(tuple(int(a) for a in argv) or (50, 100))
        rows += side_by_side(rows)
    for row in rows:
        print(json.dumps(row, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
