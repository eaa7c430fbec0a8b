"""`cc-router run`: the service itself (router, store, AMI and every other adapter)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from pathlib import Path
from typing import Annotated

import structlog
import typer

from cc_router.cli.options import load_or_exit
from cc_router.config import Config
from cc_router.logs import configure_logging

log = structlog.get_logger("cc_router.run")


async def serve(config: Config, store_url: str | None = None) -> None:
    """Run until SIGINT/SIGTERM, then stop every component (the store flushes on the way out)."""
    from cc_router.wiring import build_service

    service = build_service(config, store_url_override=store_url)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    runner = asyncio.create_task(service.run(), name="service")
    stopper = asyncio.create_task(stop.wait(), name="stop-signal")
    log.info("service_started", centre=config.centre.name, components=[c.name for c in service.components])
    await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
    log.info("service_stopping")
    stopper.cancel()
    runner.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await runner
    log.info("service_stopped")


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run(
        config: Annotated[Path, typer.Option("--config", "-c", help="YAML config file.")],
        store_url: Annotated[
            str | None, typer.Option("--store-url", help="SQLAlchemy async URL; overrides config and env.")
        ] = None,
    ) -> None:
        """Run cc-router: route calls on the configured Asterisk nodes until SIGINT/SIGTERM."""
        cfg = load_or_exit(config, 2)
        configure_logging(cfg.logging)
        import uvloop

        uvloop.run(serve(cfg, store_url))
