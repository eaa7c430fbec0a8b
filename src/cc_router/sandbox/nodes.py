"""Several sandbox nodes side by side: ``cc-router sandbox up --nodes 2``.

Each node is a whole Asterisk of its own (ports and directories in layout.py), started
from the one cached root; `provision.down` stops them all.
"""

from __future__ import annotations

import time

from cc_router.sandbox import layout
from cc_router.sandbox.provision import SandboxError, SandboxSettings, SandboxStatus, cli, status, up


def settings_of(nodes: int, base: SandboxSettings | None = None) -> list[SandboxSettings]:
    """Settings of nodes 1..`nodes`, each with trunks to all the others."""
    if not 1 <= nodes <= layout.MAX_NODES:
        raise SandboxError(f"--nodes {nodes}: the sandbox runs 1..{layout.MAX_NODES} nodes")
    base = base or SandboxSettings()
    trunks = max(base.trunk_nodes, nodes)
    out: list[SandboxSettings] = []
    for n in range(1, nodes + 1):
        s = SandboxSettings.for_node(
            n,
            root=base.root,
            ami_user=base.ami_user,
            ami_secret=base.ami_secret,
            config_dir=base.config_dir,
            dialplans_dir=base.dialplans_dir,
            mirror=base.mirror,
            boot_timeout=base.boot_timeout,
        )
        s.trunk_nodes = trunks
        out.append(s)
    return out


def up_nodes(
    nodes: int, base: SandboxSettings | None = None, trunk_timeout_s: float = 30.0
) -> list[SandboxStatus]:
    """Start (or reload) nodes 1..`nodes`; node 1 builds the root the first time. Returns
    once every trunk between them has answered its first qualify: until then a node that
    has just started refuses calls over it (an Originate through a trunk seconds after
    `up` failed at once)."""
    both = settings_of(nodes, base)
    out = [up(s) for s in both]
    if nodes > 1:
        wait_for_trunks(both, trunk_timeout_s)
    return out


def wait_for_trunks(nodes: list[SandboxSettings], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    for s in nodes:
        while True:
            lines = [ln for ln in cli(s, "pjsip show contacts").splitlines() if "ccr-trunk-node" in ln]
            if len(lines) >= len(nodes) - 1 and all(" Avail " in ln for ln in lines):
                break
            if time.monotonic() > deadline:
                raise SandboxError(f"node {s.node}: trunks not reachable after {timeout_s:g} s: {lines}")
            time.sleep(0.25)


def status_nodes(base: SandboxSettings | None = None) -> list[SandboxStatus]:
    """Node 1 always, and every other node that is running."""
    base = base or SandboxSettings()
    out = [status(settings_of(1, base)[0])]
    for n in range(2, layout.MAX_NODES + 1):
        st = status(SandboxSettings.for_node(n, root=base.root))
        if st.running:
            out.append(st)
    return out
