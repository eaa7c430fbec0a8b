"""``python -m cc_router.sandbox up|down|status|cli '<command>'``."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from dataclasses import asdict

from cc_router.sandbox.nodes import status_nodes, up_nodes
from cc_router.sandbox.provision import SandboxError, SandboxSettings, cli, down


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cc_router.sandbox")
    parser.add_argument("action", choices=["up", "down", "status", "cli"])
    parser.add_argument("command", nargs="?", help="CLI command for 'cli'")
    parser.add_argument("--nodes", type=int, default=1, help="'up': Asterisk nodes side by side")
    parser.add_argument("--node", type=int, default=1, help="'cli': which node")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    settings = SandboxSettings()
    started = time.monotonic()
    try:
        if args.action == "up":
            up_nodes(args.nodes, settings)
        elif args.action == "down":
            down(settings)
        elif args.action == "cli":
            if not args.command:
                parser.error("cli needs a command, e.g. 'core show channels'")
            sys.stdout.write(cli(SandboxSettings.for_node(args.node), args.command))
            return 0
        sts = status_nodes(settings)
    except SandboxError as exc:
        sys.stderr.write(f"sandbox: {exc}\n")
        return 1
    for st in sts:
        if len(sts) > 1:
            sys.stdout.write(f"--- node {st.node}\n")
        for key, value in asdict(st).items():
            sys.stdout.write(f"{key}: {value}\n")
    sys.stdout.write(f"elapsed: {time.monotonic() - started:.1f} s\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
