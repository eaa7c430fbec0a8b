"""`cc-router sandbox up|down|status|cli`: the project's own real Asterisk."""

from __future__ import annotations

from dataclasses import asdict

import typer

from cc_router.sandbox.nodes import status_nodes, up_nodes
from cc_router.sandbox.provision import SandboxError, SandboxSettings, cli, down

sandbox = typer.Typer(help="A real Asterisk 22 in a cached Debian chroot, on non-default ports.")


def _print_status() -> None:
    nodes = status_nodes(SandboxSettings())
    for st in nodes:
        if len(nodes) > 1:
            typer.echo(f"--- node {st.node}")
        for key, value in asdict(st).items():
            typer.echo(f"{key}: {value}")


@sandbox.command("up")
def sandbox_up(
    nodes: int = typer.Option(1, "--nodes", help="Asterisk nodes side by side, with trunks between them."),
) -> None:
    """Build (once, cached) and start the sandbox; prints the AMI and SIP addresses."""
    try:
        up_nodes(nodes)
    except SandboxError as exc:
        typer.echo(f"sandbox: {exc}", err=True)
        raise typer.Exit(1) from None
    _print_status()


@sandbox.command("down")
def sandbox_down() -> None:
    """Stop every node of the sandbox and unmount what it mounted."""
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
def sandbox_cli(command: str, node: int = typer.Option(1, "--node", help="Which node.")) -> None:
    """Run an Asterisk CLI command in the sandbox (e.g. 'core show channels')."""
    try:
        typer.echo(cli(SandboxSettings.for_node(node), command), nl=False)
    except SandboxError as exc:
        typer.echo(f"sandbox: {exc}", err=True)
        raise typer.Exit(1) from None


def register(app: typer.Typer) -> None:
    app.add_typer(sandbox, name="sandbox")
