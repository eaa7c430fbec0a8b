"""Several sandbox nodes side by side: ``cc-router sandbox up --nodes 2``.

Each node is a whole Asterisk of its own (ports and directories in layout.py), started
from the one cached root; `provision.down` stops them all.
"""

from __future__ import annotations

from cc_router.sandbox import layout
from cc_router.sandbox.provision import SandboxError, SandboxSettings, SandboxStatus, status, up


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


def up_nodes(nodes: int, base: SandboxSettings | None = None) -> list[SandboxStatus]:
    """Start (or reload) nodes 1..`nodes`; node 1 builds the root the first time."""
    return [up(s) for s in settings_of(nodes, base)]


def status_nodes(base: SandboxSettings | None = None) -> list[SandboxStatus]:
    """Node 1 always, and every other node that is running."""
    base = base or SandboxSettings()
    out = [status(settings_of(1, base)[0])]
    for n in range(2, layout.MAX_NODES + 1):
        st = status(SandboxSettings.for_node(n, root=base.root))
        if st.running:
            out.append(st)
    return out
