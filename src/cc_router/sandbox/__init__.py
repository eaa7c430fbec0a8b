"""A real Asterisk 22 for tests, demos and benchmarks (Debian sid chroot, loopback only).

``python -m cc_router.sandbox up|down|status`` or the ``cc-router sandbox`` command.
"""

from cc_router.sandbox.provision import (
    SandboxError,
    SandboxSettings,
    SandboxStatus,
    cli,
    down,
    ensure_sipp,
    is_built,
    status,
    up,
)

__all__ = [
    "SandboxError",
    "SandboxSettings",
    "SandboxStatus",
    "cli",
    "down",
    "ensure_sipp",
    "is_built",
    "status",
    "up",
]
