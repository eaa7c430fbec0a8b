"""`cc-router run`: the service itself (router, store, AMI and every other adapter)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from pathlib import Path
from typing import Annotated

import structlog
import typer

from cc_router.cli.options import load_or_exit
from cc_router.config import Config
from cc_router.logs import configure_logging

log = structlog.get_logger("cc_router.run")


async def serve(config: Config, store_url: str | None = None) -> str:
    """Run until SIGINT/SIGTERM, then stop every component (the store flushes on the way
    out). Returns "stopped", or "step_down" when leadership was lost (the caller starts
    the process again, as a standby)."""
    from cc_router.wiring import build

    t0 = time.perf_counter()
    built = build(config, store_url_override=store_url)
    build_s = round(time.perf_counter() - t0, 3)
    service = built.service
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    runner = asyncio.create_task(service.run(), name="service")
    waiters = {runner, asyncio.create_task(stop.wait(), name="stop-signal")}
    lost = asyncio.create_task(built.leader.lost.wait(), name="leadership-lost")
    waiters.add(lost)
    log.info(
        "service_started",
        centre=config.centre.name,
        components=[c.name for c in service.components],
        build_s=build_s,
    )
    await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    outcome = "step_down" if lost.done() else "stopped"
    log.info("service_stopping", reason=outcome)
    for w in waiters:
        w.cancel()
    try:
        with contextlib.suppress(asyncio.CancelledError):
            await runner
    finally:
        log.info("service_stopped")
    return outcome


def _restart_self() -> None:
    """Start this command again in this process: every piece of state built while leading
    is gone, and the new process stands by until the lock is free again."""
    log.warning("stepping_down", detail="restarting as a standby")
    os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run(
        config: Annotated[Path, typer.Option("--config", "-c", help="YAML config file.")],
        store_url: Annotated[
            str | None, typer.Option("--store-url", help="SQLAlchemy async URL; overrides config and env.")
        ] = None,
    ) -> None:
        """Run cc-router: route calls on the configured Asterisk nodes until SIGINT/SIGTERM."""
        t0 = time.perf_counter()
        cfg = load_or_exit(config, 2)
        configure_logging(cfg.logging)
        # How long a (re)start spends before routing, step by step (with service_started's
        # build_s and state_restored's seconds).
        log.info("config_loaded", seconds=round(time.perf_counter() - t0, 3))
        import uvloop

        from cc_router.ha.leader import AlreadyRunning

        try:
            outcome = uvloop.run(serve(cfg, store_url))
        except* AlreadyRunning as group:
            typer.echo(f"cc-router: {group.exceptions[0]}", err=True)
            raise typer.Exit(2) from None
        if outcome == "step_down":
            _restart_self()
