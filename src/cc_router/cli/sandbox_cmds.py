"""`cc-router sandbox up|down|status|cli`: the project's own real Asterisk."""

from __future__ import annotations

from dataclasses import asdict

import typer

from cc_router.sandbox.provision import SandboxError, SandboxSettings, cli, down, status, up

sandbox = typer.Typer(help="A real Asterisk 22 in a cached Debian chroot, on non-default ports.")


def _print_status() -> None:
    for key, value in asdict(status(SandboxSettings())).items():
        typer.echo(f"{key}: {value}")


@sandbox.command("up")
def sandbox_up() -> None:
    """Build (once, cached) and start the sandbox; prints the AMI and SIP addresses."""
    try:
        up(SandboxSettings())
    except SandboxError as exc:
        typer.echo(f"sandbox: {exc}", err=True)
        raise typer.Exit(1) from None
    _print_status()


@sandbox.command("down")
def sandbox_down() -> None:
    """Stop the sandbox's Asterisk and unmount what it mounted."""
    try:
        down(SandboxSettings())
    except SandboxError as exc:
        typer.echo(f"sandbox: {exc}", err=True)
        raise typer.Exit(1) from None
    _print_status()


@sandbox.command("status")
def sandbox_status() -> None:
    """Whether the root is built and Asterisk is running."""
    _print_status()


@sandbox.command("cli")
def sandbox_cli(command: str) -> None:
    """Run an Asterisk CLI command in the sandbox (e.g. 'core show channels')."""
    try:
        typer.echo(cli(SandboxSettings(), command), nl=False)
    except SandboxError as exc:
        typer.echo(f"sandbox: {exc}", err=True)
        raise typer.Exit(1) from None


def register(app: typer.Typer) -> None:
    app.add_typer(sandbox, name="sandbox")
