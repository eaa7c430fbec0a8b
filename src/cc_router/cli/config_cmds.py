"""`cc-router check-config` and `cc-router gen-config`."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer


def check_config(
    file: Annotated[Path, typer.Argument(help="YAML config file to check.", dir_okay=False)],
    build: Annotated[
        bool, typer.Option(help="Also build the routing core from it (catches what only the core sees).")
    ] = True,
) -> None:
    """Check a config file; print a one-line summary, or every problem found (exit 1)."""
    from cc_router.cli.options import load_or_exit
    from cc_router.config import summary

    t0 = time.perf_counter()
    config = load_or_exit(file, 1)
    if build:
        from cc_router.core.router import Router

        try:
            Router(config.to_centre())
        except ValueError as e:
            # The core is the final judge; say so rather than print a traceback.
            typer.echo(f"{file}: the routing core rejected it: {e}", err=True)
            raise typer.Exit(1) from None
    typer.echo(f"{summary(config)} ({time.perf_counter() - t0:.2f} s)")


def gen_config(
    agents: Annotated[int, typer.Option(min=1, help="Number of agents.")] = 20_000,
    skills: Annotated[int, typer.Option(min=3, help="Number of declared skills.")] = 100,
    queues: Annotated[int, typer.Option(min=1, help="Number of queues.")] = 60,
    seed: Annotated[int, typer.Option(help="Same seed, same file.")] = 1,
    out: Annotated[Path | None, typer.Option(help="Write here instead of stdout.", dir_okay=False)] = None,
) -> None:
    """Generate a large, realistic config (for load tests, benchmarks and the simulator)."""
    from cc_router.config.generate import generate_yaml

    text = generate_yaml(agents=agents, skills=skills, queues=queues, seed=seed)
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {out} ({agents} agents, {skills} skills, {queues} queues)", err=True)


def register(app: typer.Typer) -> None:
    app.command("check-config")(check_config)
    app.command("gen-config")(gen_config)
