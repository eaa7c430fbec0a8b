"""Two real Asterisk nodes, one router, SIPp into both: `python -m cc_router.bench multinode`.

Agents are split between the nodes (simulated, `Local/<id>@ccr-sim-agent` on their own
node); the queue's `locality: off` lets longest-idle pick agents on either node, so both
same-node and cross-node offers occur in one run. Figures, per kind of offer:

- `enqueue_to_originate_ms` p50/p99: from the TCP read that carried the caller's
  CCREnqueue on its node to the bytes carrying the Originate written to that node's socket
  (this process's monotonic clock, as in e2e.py);
- `asterisk_enqueue_to_agent_channel_ms`: CCREnqueue to the agent leg's Newchannel on the
  caller's node, both Asterisk `Timestamp`s: the figure comparable with app_queue's
  QueueCallerJoin -> AgentCalled;
- router CPU per call (this process), Asterisk CPU per call per node, calls lost (SIPp
  calls made but never finished by the router).

Then the side-by-side row: the same traffic (both SIPp loads, now together into node 1)
into Asterisk's own app_queue on node 1 alone, with every one of the agents a member of
queue `apq` (e2e.py's app_queue driver, `app_queue_phase`).

Sizes: CC_ROUTER_BENCH_MULTINODE_AGENTS (default 20,000), _RATE per node (default 30
calls/s), _SECONDS of traffic (default 30); _APP_QUEUE=0 skips the app_queue row. Needs
root and the shared sandbox lock, like every SIPp bench.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from cc_router.bench.asterisk_cpu import CpuWindow, ms_per
from cc_router.bench.e2e import (
    CALLER_NUM,
    ControlAmi,
    E2eParams,
    RouterProbe,
    app_queue_phase,
    hang_up_leftovers,
    instrument,
    latencies_ms,
    percentile,
)
from cc_router.bench.sipp_load import SippLoad, run_sipp
from cc_router.config.models import LoggingConfig
from cc_router.core import commands as cmd
from cc_router.core import events as ev
from cc_router.logs import configure_logging
from cc_router.sandbox import SandboxSettings, ensure_sipp, status
from cc_router.sandbox.nodes import settings_of, up_nodes
from cc_router.testing.live import LiveService, wait_until
from cc_router.testing.multinode import nodes_config

NUMBER = "30099"
RING_S, TALK_S = 1, 2
HOLD_MS = 30_000
"""A caller not answered after this hangs up: abandoned, not lost."""


def _env(name: str, default: int) -> int:
    return int(os.environ.get(f"CC_ROUTER_BENCH_MULTINODE_{name}", default))


def centre(agents: int) -> str:
    half = agents // 2
    return f"""
skills: [zh]
agent_groups:
  - {{prefix: mba, id_start: 1, count: {half}, width: 5, pool: p1, skills: {{zh: 1}}}}
  - {{prefix: mbb, id_start: 1, count: {agents - half}, width: 5, pool: p2, skills: {{zh: 1}}}}
queues:
  - {{name: mbench, requirement: zh, ring_timeout_s: 10, wrapup_s: 0, locality: off}}
numbers:
  "{NUMBER}": {{queue: mbench}}
routing: {{max_misses: 100}}
"""


def agent_ids(agents: int) -> list[str]:
    """The ids `centre` gives (agent_groups expand `<prefix><id_start + i, width 5>`)."""
    half = agents // 2
    return [f"mba{i:05d}" for i in range(1, half + 1)] + [f"mbb{i:05d}" for i in range(1, agents - half + 1)]


async def _on_each(nodes: Sequence[SandboxSettings], actions: Sequence[dict[str, str]]) -> None:
    for s in nodes:
        ami = ControlAmi(s)
        await ami.open()
        try:
            await ami.events("off")
            await ami.batch(actions)
        finally:
            await ami.close()


def _steer(nodes: Sequence[SandboxSettings]) -> Any:
    # ccrsim/default: every simulated agent on every node rings 1 s and talks 2 s, the
    # app_queue members on node 1 as well as the router's agents.
    keys = (("ring", RING_S), ("talk", TALK_S), ("answer", 1))
    return _on_each(
        nodes,
        [{"Action": "DBPut", "Family": "ccrsim", "Key": f"default/{k}", "Val": str(v)} for k, v in keys],
    )


def _clear(nodes: Sequence[SandboxSettings]) -> Any:
    return _on_each(nodes, [{"Action": "DBDelTree", "Family": "ccrsim", "Key": "default"}])


async def app_queue_row(
    node1: SandboxSettings, agents: Sequence[str], rate: int, calls: int, workdir: Path
) -> dict[str, Any]:
    """The router's traffic, both nodes' loads together, into app_queue on node 1 with
    every agent a member (e2e.py adds and removes them)."""
    pid = status(node1).pid
    if pid is None:
        raise RuntimeError("node 1 is not running")
    params = E2eParams(agents=len(agents), ring_s=RING_S, talk_s=TALK_S, hold_ms=HOLD_MS)
    ami = ControlAmi(node1)
    await ami.open()
    try:
        await ami.events("off")
        await hang_up_leftovers(ami)
        [row] = await app_queue_phase(ami, pid, (rate,), calls, params, agents, workdir)
    finally:
        with contextlib.suppress(Exception):
            await hang_up_leftovers(ami)
        await ami.close()
    return {
        "name": "multinode_app_queue_one_node",
        "nodes": 1,
        **{k: v for k, v in row.items() if k != "name"},
    }


def _offer_routes(live: LiveService) -> dict[str, str]:
    """Interaction -> the route of its first offer ("" same node, "node1->node2" across)."""
    routes: dict[str, str] = {}

    def sink(commands: Sequence[cmd.Command], _now: float) -> None:
        for c in commands:
            if isinstance(c, cmd.Offer) and c.interaction_id not in routes:
                routes[c.interaction_id] = c.explanation.route

    live.service.sinks.insert(0, sink)
    return routes


def _split_rows(
    agents: int, rate: int, probes: Sequence[tuple[str, RouterProbe]], routes: dict[str, str]
) -> list[dict[str, Any]]:
    # Every probe's listener sees every arrival, each stamped with its own node's last
    # read: only its own node's callers (ids `<node>.<uniqueid>`) are its to time.
    arrived = {k: v for prefix, p in probes for k, v in p.arrived.items() if k.startswith(prefix)}
    written = {k: v for _, p in probes for k, v in p.written.items()}
    ast_in = {k: v for _, p in probes for k, v in p.ast_enqueue.items()}
    ast_out = {k: v for _, p in probes for k, v in p.ast_agent_channel.items()}
    rows: list[dict[str, Any]] = []
    for kind, remote in (("same_node", False), ("cross_node", True)):

        def mine(d: dict[str, float], remote: bool = remote) -> dict[str, float]:
            return {k: v for k, v in d.items() if k in routes and bool(routes[k]) is remote}

        lat = latencies_ms(mine(arrived), written)
        ast = latencies_ms(mine(ast_in), ast_out)
        rows.append(
            {
                "name": f"multinode_{kind}",
                "agents": agents,
                "nodes": 2,
                "rate_per_node": rate,
                "offers": sum(1 for r in routes.values() if bool(r) is remote),
                "enqueue_to_originate_ms_p50": _r(percentile(lat, 50)),
                "enqueue_to_originate_ms_p99": _r(percentile(lat, 99)),
                "asterisk_enqueue_to_agent_channel_ms_p50": _r(percentile(ast, 50)),
                "asterisk_enqueue_to_agent_channel_ms_p99": _r(percentile(ast, 99)),
            }
        )
    return rows


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


async def router_rows(
    nodes: Sequence[SandboxSettings], agents: int, rate: int, seconds: int, workdir: Path
) -> list[dict[str, Any]]:
    calls = rate * seconds
    url = f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
    # The production defaults for the AMI pings (the tests' 1 s would take a loaded
    # node's link for lost mid-run).
    live = LiveService(
        nodes_config(centre(agents), nodes, store_url=url, ping_interval_s=5.0, ping_timeout_s=3.0)
    )
    routes = _offer_routes(live)  # before the nodes' sinks: the Offer seen as its Originate is made
    probes = [RouterProbe() for _ in live.nodes]
    undo: list[Callable[[], None]] = [
        instrument(live.service, n, p) for n, p in zip(live.nodes, probes, strict=True)
    ]
    try:
        await live.start(timeout=90)
        for g in live.config.agent_groups:
            live.login(*(aid for aid, _ in g.expand()))
        await asyncio.sleep(1.0)
        pids = [status(s).pid for s in nodes]
        windows = [CpuWindow(pid).start() for pid in pids if pid is not None]
        cpu0 = time.process_time()
        loads = [
            SippLoad(NUMBER, rate, calls, HOLD_MS, local_port=15290 + 10 * i, media_port=16290 + 10 * i,
                     target=s.sip, caller_num=CALLER_NUM)
            for i, s in enumerate(nodes)
        ]  # fmt: skip
        dirs = [workdir / f"sipp-node{s.node}" for s in nodes]
        for d in dirs:
            d.mkdir(exist_ok=True)  # one SIPp statistics file each (run_sipp names it by address and rate)
        results = await asyncio.gather(*(run_sipp(load, d) for load, d in zip(loads, dirs, strict=True)))
        made = sum(r.created for r in results)
        with contextlib.suppress(TimeoutError):
            await wait_until(lambda: len(live.of(cmd.InteractionFinished)) >= made, 60, "all finished")
        router_cpu = time.process_time() - cpu0
        for w in windows:
            w.stop()
    finally:
        for u in reversed(undo):
            u()
        await live.stop()
    finished = live.of(cmd.InteractionFinished)
    outcomes = [str(f.outcome) for f in finished]
    rows = _split_rows(
        agents, rate, [(n.ami_in.prefix, p) for n, p in zip(live.nodes, probes, strict=True)], routes
    )
    rows.append(
        {
            "name": "multinode_totals",
            "agents": agents,
            "nodes": 2,
            "rate_per_node": rate,
            "seconds": seconds,
            "sipp_calls": made,
            "sipp_failed": sum(r.failed for r in results),
            "arrived": len(live.events_of(ev.InteractionArrived)),
            "answered": outcomes.count("answered"),
            "abandoned": sum(1 for o in outcomes if o.startswith("abandoned")),
            "lost": made - len(finished),
            "router_cpu_ms_per_call": ms_per(router_cpu, made),
            **{
                f"asterisk_node{s.node}_cpu_ms_per_call": ms_per(w.cpu_s, r.created)
                for s, w, r in zip(nodes, windows, results, strict=True)
            },
            "note": "shared 2-core machine, several people at once: figures are noisy",
        }
    )
    return rows


async def run(agents: int, rate: int, seconds: int, with_app_queue: bool = True) -> list[dict[str, Any]]:
    nodes = settings_of(2)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="ccr-multinode-") as tmp:
        workdir = Path(tmp)
        await _steer(nodes)
        try:
            rows += await router_rows(nodes, agents, rate, seconds, workdir)
            if with_app_queue:
                await asyncio.sleep(TALK_S + 2)  # the router's last calls gone from node 1
                rows.append(
                    await app_queue_row(nodes[0], agent_ids(agents), 2 * rate, 2 * rate * seconds, workdir)
                )
        finally:
            await _clear(nodes)
    return rows


def rows() -> list[dict[str, Any]]:
    # Production logging (JSON, info) to stderr: its cost is part of the router's CPU, and
    # stdout keeps only the figures.
    configure_logging(LoggingConfig.model_validate({"level": "info", "json": True}), stream=sys.stderr)
    ensure_sipp()
    up_nodes(2)
    return asyncio.run(
        run(_env("AGENTS", 20_000), _env("RATE", 30), _env("SECONDS", 30), _env("APP_QUEUE", 1) != 0)
    )
