"""Two sandbox nodes and one router: config for tests and benchmarks (sandbox/layout.py).

Node names are `node1` and `node2`, the names the sandbox's trunk endpoints use
(`ccr-trunk-node2` on node 1 and `ccr-trunk-node1` on node 2), so `trunks:` needs no
`endpoints:` here. Seat pool `p1` is on node 1, `p2` on node 2.
"""

from __future__ import annotations

from collections.abc import Sequence

from cc_router.config import Config, loads_config
from cc_router.sandbox import SandboxSettings


def nodes_config(
    body: str,
    nodes: Sequence[SandboxSettings],
    *,
    store_url: str = "sqlite+aiosqlite:///:memory:",
    max_calls: int | None = None,
    ping_interval_s: float = 1.0,
    ping_timeout_s: float = 1.0,
    reconnect_max_s: float = 1.0,
    drop_callers_after_s: float = 30.0,
    tls_from: int = 2,
) -> Config:
    """`body`: skills/agents/queues/numbers (agents in pools p1, p2); nodes, pools, trunk added.

    Nodes from `tls_from` on are reached over AMI TLS, verified with the sandbox's CA, as a
    node on another host would be."""
    lines = ["asterisk:"]
    for s in nodes:
        tls = s.node >= tls_from
        lines += [
            f"  - name: node{s.node}",
            "    host: 127.0.0.1",
            f"    port: {s.ami_tls_port if tls else s.ami_port}",
            f"    tls: {'true' if tls else 'false'}",
            f'    tls_ca_file: "{s.tls_ca_file}"' if tls else "    tls_ca_file: null",
            f"    username: {s.ami_user}",
            f'    secret: "{s.ami_secret}"',
            f"    ping_interval_s: {ping_interval_s}",
            f"    ping_timeout_s: {ping_timeout_s}",
            f"    reconnect_max_s: {reconnect_max_s}",
            f"    drop_callers_after_s: {drop_callers_after_s}",
        ]
    lines.append("seat_pools:")
    lines += [f"  - {{name: p{s.node}, node: node{s.node}}}" for s in nodes]
    limit = "" if max_calls is None else f", max_calls: {max_calls}"
    pairs = [(a.node, b.node) for i, a in enumerate(nodes) for b in nodes[i + 1 :]]
    trunks = [f"  - {{nodes: [node{a}, node{b}]{limit}}}" for a, b in pairs]
    if trunks:
        lines += ["trunks:", *trunks]
    lines += ["store:", f'  url: "{store_url}"', "  flush_interval_s: 0.1"]
    return loads_config(body + "\n" + "\n".join(lines) + "\n", env={})
