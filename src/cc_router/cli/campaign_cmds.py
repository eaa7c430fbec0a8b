"""`cc-router campaign list|export`: SMS keyword campaigns and their enrolments."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer

from cc_router.cli.options import load_or_exit
from cc_router.config import Config, environment

DEFAULT_CONFIG = "config/example.yaml"
CSV_COLUMNS = ("subscriber", "enrolled_at", "message_id")


ConfigPath = Annotated[
    str | None,
    typer.Option("--config", "-c", help=f"Config file (default ${environment.CONFIG} or example)."),
]


def _load(config_path: str | None) -> Config:
    return load_or_exit(config_path or environment.config_path(DEFAULT_CONFIG), 2)


def _store_url(config: Config, given: str | None) -> str:
    return given or environment.store_url() or str(config.store.url)


async def _rows(url: str, campaign: str) -> list[dict[str, Any]]:
    from sqlalchemy.ext.asyncio import create_async_engine

    from cc_router.omni.campaigns import enrolments
    from cc_router.store import migrate

    engine = create_async_engine(url)
    try:
        await migrate(engine)
        return await enrolments(engine, campaign)
    finally:
        await engine.dispose()


def enrolments_csv(rows: list[dict[str, Any]], tz: ZoneInfo) -> str:
    """subscriber, enrolled_at (ISO 8601 in the centre's zone, with its offset), message id."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for r in rows:
        at: datetime = r["enrolled_at"]
        w.writerow([r["subscriber"], at.astimezone(tz).isoformat(timespec="seconds"), r["message_id"]])
    return buf.getvalue()


def register(app: typer.Typer) -> None:
    campaign = typer.Typer(help="SMS keyword campaigns: list them, export enrolments.", no_args_is_help=True)

    @campaign.command("list")
    def list_(
        config_path: ConfigPath = None,
    ) -> None:
        """The configured campaigns, their windows (centre time) and whether they run now."""
        config = _load(config_path)
        tz = config.centre.tz
        now = datetime.now(UTC)
        if not config.campaigns:
            typer.echo("no campaigns configured")
            return
        for c in config.campaigns:
            start, end = c.start.astimezone(tz), c.end.astimezone(tz)
            state = "running" if start <= now < end else ("upcoming" if now < start else "closed")
            typer.echo(
                f"{c.name}\t{c.service_number}\t{c.keyword}\t{start.isoformat()}\t{end.isoformat()}\t{state}"
            )

    @campaign.command("export")
    def export(
        name: Annotated[str, typer.Argument(help="Campaign name.")],
        store_url: Annotated[
            str | None,
            typer.Option("--store-url", help=f"Store URL (default ${environment.STORE_URL} or config)."),
        ] = None,
        out: Annotated[Path | None, typer.Option("--out", "-o", help="CSV file (default: stdout).")] = None,
        config_path: ConfigPath = None,
    ) -> None:
        """Write a campaign's enrolments as CSV for settlement (times in the centre's zone)."""
        config = _load(config_path)
        known = {c.name for c in config.campaigns}
        if name not in known:
            # Settling a campaign removed from the config is legitimate; say so, then go on.
            typer.echo(
                f"note: campaign {name!r} is not in the config (known: {', '.join(sorted(known))})", err=True
            )
        rows = asyncio.run(_rows(_store_url(config, store_url), name))
        text = enrolments_csv(rows, config.centre.tz)
        if out is None:
            typer.echo(text, nl=False)
        else:
            out.write_text(text, encoding="utf-8")
            typer.echo(f"{len(rows)} enrolments of {name} written to {out}", err=True)

    app.add_typer(campaign, name="campaign")
