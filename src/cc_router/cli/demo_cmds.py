"""`cc-router demo`: the sandbox, the router on a config, and demo traffic, until Ctrl-C."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Coroutine
from pathlib import Path
from typing import Annotated, Any

import typer

from cc_router.cli.options import load_or_exit
from cc_router.sandbox.provision import SandboxError, SandboxSettings, down, up


def demo(
    config: Annotated[Path, typer.Option("--config", "-c", help="Centre config (YAML).")] = Path(
        "config/example.yaml"
    ),
    calls_per_minute: Annotated[
        float, typer.Option(help="Demo callers per minute over all voice numbers.")
    ] = 20.0,
    store_url: Annotated[str | None, typer.Option(help="SQLAlchemy URL; default from the config.")] = None,
    keep_sandbox: Annotated[bool, typer.Option(help="Leave the sandbox's Asterisk running.")] = False,
) -> None:
    """Bring up the Asterisk sandbox, route demo calls with CONFIG, show the wallboard URL."""
    from cc_router.demo import DEMO_PASSWORD, DEMO_USER, DemoTraffic, ensure_demo_login
    from cc_router.wiring import build_service
    from cc_router.wiring import store_url as resolve_store_url

    cfg = load_or_exit(config, 1)
    from cc_router.logs import configure_logging

    configure_logging(cfg.logging)
    settings = SandboxSettings()
    typer.echo("starting the Asterisk sandbox (the first time builds it: about a minute)...")
    try:
        st = up(settings)
    except SandboxError as exc:
        typer.echo(f"sandbox: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"{st.version} up: AMI {st.ami}, SIP {st.sip}")
    service = build_service(cfg, store_url_override=store_url)
    service.components.append(DemoTraffic(service, cfg, settings, calls_per_minute))
    base = f"http://{cfg.http.host}:{cfg.http.port}"
    agent_id = next(iter(service.router.agents), None)
    if agent_id is not None:
        asyncio.run(ensure_demo_login(resolve_store_url(cfg, store_url), agent_id))
        typer.echo(f"agent desktop: {base}/agent   login {DEMO_USER} / {DEMO_PASSWORD} (agent {agent_id})")
    typer.echo(f"wallboard: {base}/   (Ctrl-C to stop)")
    try:
        _run_until_signal(service.run())
    finally:
        if not keep_sandbox:
            down(settings)
            typer.echo("sandbox stopped")


def _run_until_signal(main: Coroutine[Any, Any, None]) -> None:
    async def runner() -> None:
        task = asyncio.ensure_future(main)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await task

    try:
        import uvloop

        uvloop.run(runner())
    except ImportError:  # pragma: no cover - uvloop is a dependency
        asyncio.run(runner())


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
