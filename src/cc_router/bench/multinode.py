"""Two real Asterisk nodes, one router, SIPp into both: `python -m cc_router.bench multinode`.

Agents are split between the nodes (simulated, `Local/<id>@ccr-sim-agent` on their own
node); the queue's `locality: off` lets longest-idle pick agents on either node, so both
same-node and cross-node offers occur in one run. Figures, per kind of offer:

- `enqueue_to_originate_ms` p50/p99: from the TCP read that carried the caller's
  CCREnqueue on its node to the Originate handed to that node's connection (this
  process's monotonic clock; the write itself is coalesced after that);
- router CPU per call (this process), Asterisk CPU per call per node, calls lost (SIPp
  calls made but never connected or finished by the router).

Sizes: CC_ROUTER_BENCH_MULTINODE_AGENTS (default 2,000), _RATE per node (default 10 calls/s),
_SECONDS (default 20). Needs root and the shared sandbox lock, like every SIPp bench.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cc_router.bench.asterisk_cpu import CpuWindow, ms_per
from cc_router.bench.e2e import percentile
from cc_router.bench.sipp_load import SippLoad, run_sipp
from cc_router.config.models import LoggingConfig
from cc_router.core import commands as cmd
from cc_router.core import events as ev
from cc_router.logs import configure_logging
from cc_router.sandbox import SandboxSettings, ensure_sipp, status
from cc_router.sandbox.nodes import settings_of, up_nodes
from cc_router.testing.live import AmiAdmin, LiveService, wait_until
from cc_router.testing.multinode import nodes_config

NUMBER = "30099"


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


async def _steer(nodes: Sequence[SandboxSettings]) -> None:
    for s in nodes:
        admin = await AmiAdmin(s).connect()
        for key, value in (("ring", "1"), ("talk", "2"), ("answer", "1")):
            await admin.action({"Action": "DBPut", "Family": "ccrsim", "Key": f"default/{key}", "Val": value})
        await admin.close()


async def _clear(nodes: Sequence[SandboxSettings]) -> None:
    for s in nodes:
        admin = await AmiAdmin(s).connect()
        await admin.action({"Action": "DBDelTree", "Family": "ccrsim", "Key": "default"})
        await admin.close()


async def run(agents: int, rate: int, seconds: int) -> list[dict[str, Any]]:
    nodes = settings_of(2)
    calls = rate * seconds
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        live = LiveService(nodes_config(centre(agents), nodes, store_url=url))
        await _steer(nodes)
        await live.start(timeout=60)
        read_at: dict[str, float] = {}
        by_node = {n.node: n for n in live.nodes}

        def listener(event: object, _now: float) -> None:
            if isinstance(event, ev.InteractionArrived):
                node = by_node.get(event.attributes.get("node", ""))
                conn = node.conn if node is not None else None
                read_at[event.interaction_id] = conn.last_rx if conn is not None else time.monotonic()

        offered: dict[str, tuple[float, str]] = {}

        def sink(commands: Sequence[cmd.Command], _now: float) -> None:
            for c in commands:
                if isinstance(c, cmd.Offer) and c.interaction_id not in offered:
                    offered[c.interaction_id] = (time.monotonic(), c.explanation.route)

        live.service.listeners.insert(0, listener)
        live.service.sinks.insert(0, sink)  # before the nodes' sinks: taken as the Originate is queued
        for a in live.config.agents or []:
            live.login(a.id)
        for g in live.config.agent_groups:
            live.login(*(aid for aid, _ in g.expand()))
        pids = [status(s).pid for s in nodes]
        windows = [CpuWindow(pid).start() for pid in pids if pid is not None]
        cpu0 = time.process_time()
        loads = [
            SippLoad(NUMBER, rate, calls, 30_000, local_port=15290 + 10 * i, media_port=16290 + 10 * i,
                     target=s.sip, caller_num=f"1390009{i}000")
            for i, s in enumerate(nodes)
        ]  # fmt: skip
        try:
            results = await asyncio.gather(*(run_sipp(load, Path(tmp)) for load in loads))
            await wait_until(lambda: len(live.of(cmd.InteractionFinished)) >= 2 * calls, 60, "all finished")
        except TimeoutError:
            pass
        router_cpu = time.process_time() - cpu0
        for w in windows:
            w.stop()
        await live.stop()
        await _clear(nodes)
    finished = live.of(cmd.InteractionFinished)
    answered = sum(1 for f in finished if f.outcome == "answered")
    made = sum(r.created for r in results)
    rows: list[dict[str, Any]] = []
    for kind, remote in (("same_node", False), ("cross_node", True)):
        lat = [
            1000.0 * (t - read_at[iid])
            for iid, (t, route) in offered.items()
            if bool(route) is remote and iid in read_at
        ]
        rows.append(
            {
                "name": f"multinode_{kind}",
                "agents": agents,
                "nodes": 2,
                "rate_per_node": rate,
                "offers": len(lat),
                "enqueue_to_originate_ms_p50": percentile(lat, 50),
                "enqueue_to_originate_ms_p99": percentile(lat, 99),
            }
        )
    rows.append(
        {
            "name": "multinode_totals",
            "agents": agents,
            "sipp_calls": made,
            "sipp_failed": sum(r.failed for r in results),
            "arrived": len(live.events_of(ev.InteractionArrived)),
            "answered": answered,
            "lost": made - len(finished),
            "router_cpu_ms_per_call": ms_per(router_cpu, made),
            **{
                f"asterisk_node{i + 1}_cpu_ms_per_call": ms_per(w.cpu_s, made // 2)
                for i, w in enumerate(windows)
            },
            "note": "shared 2-core machine, several people at once: figures are noisy",
        }
    )
    return rows


def rows() -> list[dict[str, Any]]:
    # Production logging (JSON, info) to stderr: its cost is part of the router's CPU, and
    # stdout keeps only the figures.
    configure_logging(LoggingConfig.model_validate({"level": "info", "json": True}), stream=sys.stderr)
    ensure_sipp()
    up_nodes(2)
    return asyncio.run(run(_env("AGENTS", 2000), _env("RATE", 10), _env("SECONDS", 20)))
