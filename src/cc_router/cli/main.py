"""The `cc-router` command. Each feature registers its sub-commands from its own module."""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="cc-router",
    help="Skills-based contact-centre routing beside a real Asterisk PBX.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

# Modules with a `register(app)` function; a missing one is a packaging error, not silent.
_FEATURES = (
    "cc_router.cli.config_cmds",
    "cc_router.cli.sandbox_cmds",
    "cc_router.cli.store_cmds",
    "cc_router.cli.top_cmds",
    "cc_router.cli.run_cmds",
    "cc_router.cli.demo_cmds",
    "cc_router.cli.campaign_cmds",
    "cc_router.cli.sim_cmds",
    "cc_router.cli.users_cmds",
)

for _name in _FEATURES:
    importlib.import_module(_name).register(app)


if __name__ == "__main__":
    app()
