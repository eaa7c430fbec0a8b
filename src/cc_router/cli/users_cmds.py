"""`cc-router users add|passwd|import|list|disable`: accounts in the store."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from cc_router.accounts import users as u
from cc_router.accounts.passwords import PasswordError
from cc_router.cli.store_cmds import DEFAULT_STORE_URL
from cc_router.config import environment
from cc_router.store import migrate

T = TypeVar("T")
StoreUrl = Annotated[
    str | None, typer.Option("--store-url", help=f"Store URL (default ${environment.STORE_URL} or sqlite).")
]


def _run(url: str | None, job: Callable[[AsyncEngine], Awaitable[T]]) -> T:
    async def go() -> T:
        engine = create_async_engine(url or environment.get(environment.STORE_URL, DEFAULT_STORE_URL))
        try:
            await migrate(engine)
            return await job(engine)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(go())
    except (u.UserError, PasswordError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from None


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    pw: str = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    return pw


def _set(text: str | None) -> frozenset[str]:
    return frozenset(x.strip() for x in (text or "").split(",") if x.strip())


def register(app: typer.Typer) -> None:
    users = typer.Typer(
        help="Accounts: agents, supervisors, admins and wallboard viewers.", no_args_is_help=True
    )
    app.add_typer(users, name="users")

    @users.command("add")
    def add(
        name: Annotated[str, typer.Argument(help="Login name.")],
        role: Annotated[str, typer.Option("--role", help="agent, supervisor, admin or viewer.")] = "agent",
        agent_id: Annotated[
            str | None, typer.Option("--agent-id", help="The agent an agent user is.")
        ] = None,
        queues: Annotated[str | None, typer.Option("--queues", help="Supervisor scope: a,b,c.")] = None,
        pools: Annotated[str | None, typer.Option("--pools", help="Supervisor scope: seat pools.")] = None,
        password_stdin: Annotated[
            bool, typer.Option("--password-stdin", help="Read the password from standard input.")
        ] = False,
        store_url: StoreUrl = None,
    ) -> None:
        """Add a user (the password is asked for, or read from stdin)."""
        pw = _password(password_stdin)
        user = _run(
            store_url,
            lambda e: u.add_user(
                e, name, role, pw, agent_id=agent_id, queues=_set(queues), pools=_set(pools)
            ),
        )
        typer.echo(f"added {user.name} ({user.role.value})")

    @users.command("passwd")
    def passwd(
        name: Annotated[str, typer.Argument()],
        password_stdin: Annotated[bool, typer.Option("--password-stdin")] = False,
        store_url: StoreUrl = None,
    ) -> None:
        """Set a new password; the user's open sessions end."""
        pw = _password(password_stdin)
        _run(store_url, lambda e: u.set_password(e, name, pw))
        typer.echo(f"password changed for {name}")

    @users.command("import")
    def import_csv(
        path: Annotated[Path, typer.Argument(help="CSV: user,role,agent_id,queues,pools,password")],
        replace: Annotated[bool, typer.Option("--replace", help="Overwrite users that exist.")] = False,
        store_url: StoreUrl = None,
    ) -> None:
        """Add many users at once; a file with any bad row changes nothing."""
        try:
            rows = u.parse_csv(path.read_text(encoding="utf-8-sig"))
        except (OSError, u.UserError) as e:
            typer.echo(f"error: {e}", err=True)
            raise typer.Exit(2) from None

        async def job(engine: AsyncEngine) -> int:
            if not replace:
                # Checked before any row is written: the file goes in whole or not at all.
                taken = sorted(set(await u.load_users(engine)) & {r["name"] for r in rows})
                if taken:
                    raise u.UserError(f"users exist: {', '.join(taken)} (use --replace to overwrite)")
            for r in rows:
                await u.add_user(
                    engine,
                    r["name"],
                    r["role"],
                    r["password"],
                    agent_id=r["agent_id"],
                    queues=r["queues"],
                    pools=r["pools"],
                    replace=replace,
                )
            return len(rows)

        typer.echo(f"imported {_run(store_url, job)} users")

    @users.command("list")
    def list_users(
        as_json: Annotated[bool, typer.Option("--json", help="JSON lines instead of a table.")] = False,
        store_url: StoreUrl = None,
    ) -> None:
        """Users with role, agent and scope (never password hashes)."""
        found = _run(store_url, u.load_users)
        if as_json:
            for user in found.values():
                typer.echo(json.dumps(user.public(), ensure_ascii=False))
            return
        table = Table("user", "role", "agent", "queues", "pools", "disabled")
        for user in sorted(found.values(), key=lambda x: x.name):
            table.add_row(
                user.name,
                user.role.value,
                user.agent_id or "",
                ",".join(sorted(user.queues)),
                ",".join(sorted(user.pools)),
                "yes" if user.disabled else "",
            )
        Console().print(table)

    @users.command("disable")
    def disable(
        name: Annotated[str, typer.Argument()],
        enable: Annotated[bool, typer.Option("--enable", help="Enable again instead.")] = False,
        store_url: StoreUrl = None,
    ) -> None:
        """Disable a user: it cannot log in, and its sessions end."""
        _run(store_url, lambda e: u.set_disabled(e, name, not enable))
        typer.echo(f"{name} {'enabled' if enable else 'disabled'}")
