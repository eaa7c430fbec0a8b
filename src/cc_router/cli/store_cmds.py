"""`cc-router report` and `cc-router store ...`: interval reports and store upkeep."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import UTC, datetime, tzinfo
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.ext.asyncio import create_async_engine

from cc_router.cli.options import load_or_exit, parse_when
from cc_router.config import environment
from cc_router.store.reports import AGENT_REPORT_COLUMNS

DEFAULT_STORE_URL = "sqlite+aiosqlite:///cc-router.db"

COLUMNS = (
    "interval_start",
    "queue",
    "channel",
    "offered",
    "answered",
    "abandoned",
    "overflowed",
    "timed_out",
    "other_exits",
    "answered_within_sl",
    "abandoned_after_sl",
    "service_level_s",
    "sl_pct",
    "asa_s",
    "aht_s",
    "max_wait_s",
)


# Short headers so the table fits a normal terminal; csv and json use the column names.
TABLE_HEADERS = {
    "interval_start": "interval (UTC)",
    "queue": "queue",
    "channel": "ch",
    "offered": "offered",
    "answered": "ans",
    "abandoned": "abn",
    "overflowed": "ovf",
    "timed_out": "tmo",
    "other_exits": "exit",
    "answered_within_sl": "in SL",
    "sl_pct": "SL %",
    "asa_s": "ASA s",
    "aht_s": "AHT s",
    "max_wait_s": "max wait s",
}


AGENT_HEADERS = {
    "interval_start": "interval (UTC)",
    "agent_id": "agent",
    "handled": "handled",
    "aht_s": "AHT s",
    "talk_s": "talk s",
    "wrap_s": "wrap s",
    "hold_s": "hold s",
    "ready_s": "ready s",
    "paused_s": "paused s",
    "logged_in_s": "logged in s",
}


class Format(StrEnum):
    TABLE = "table"
    CSV = "csv"
    JSON = "json"


class Rows(StrEnum):
    """Which rows `cc-router report` prints."""

    QUEUES = "queues"
    AGENTS = "agents"


_when = parse_when


def _when_in(text: str, zone: tzinfo) -> datetime:
    """`text` as a time; one without a zone is in `zone` (the report's)."""
    t = _when(text)
    return t.replace(tzinfo=zone) if datetime.fromisoformat(text).tzinfo is None else t


def _cell(v: Any, tz: tzinfo = UTC) -> str:
    if v is None:
        return ""
    if isinstance(v, datetime):
        return v.astimezone(tz).strftime("%Y-%m-%d %H:%M")
    if isinstance(v, float):
        return f"{v:.1f}"
    return str(v)


def _json_value(v: Any, tz: tzinfo = UTC) -> Any:
    return v.astimezone(tz).isoformat() if isinstance(v, datetime) else v


async def _report(
    url: str,
    start: datetime,
    end: datetime,
    service_levels: dict[str, float],
    default_sl: float,
    which: Rows = Rows.QUEUES,
) -> list[dict[str, Any]]:
    from cc_router.store.reports import read_agent_report, read_queue_intervals, write_intervals

    engine = create_async_engine(url)
    try:
        await write_intervals(engine, start, end, service_levels, default_service_level_s=default_sl)
        async with engine.connect() as conn:
            if which is Rows.AGENTS:
                return await read_agent_report(conn, start, end)
            return await read_queue_intervals(conn, start, end)
    finally:
        await engine.dispose()


def render(
    rows: list[dict[str, Any]], fmt: Format, console: Console, tz: tzinfo = UTC, which: Rows = Rows.QUEUES
) -> None:
    """Interval starts in `tz` (the centre's time zone when the config is known)."""
    columns, headers, title, left_cols = (
        (
            AGENT_REPORT_COLUMNS,
            AGENT_HEADERS,
            "Agent intervals (15 min); AHT = (talk + wrap-up) / handled; hold is part of talk",
            ("interval_start", "agent_id"),
        )
        if which is Rows.AGENTS
        else (
            COLUMNS,
            TABLE_HEADERS,
            "Queue intervals (15 min); SL % = in SL / (answered + abandoned after SL)",
            ("interval_start", "queue", "channel"),
        )
    )
    if fmt is Format.JSON:
        console.print_json(json.dumps([{c: _json_value(r[c], tz) for c in columns} for r in rows]))
    elif fmt is Format.CSV:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(columns)
        for r in rows:
            w.writerow([_json_value(r[c], tz) if r[c] is not None else "" for c in columns])
        # Plain write: rich markup must not touch CSV.
        console.file.write(buf.getvalue())
    else:
        table = Table(title=title)
        for c, header in {**headers, "interval_start": f"interval ({tz})"}.items():
            left = c in left_cols
            table.add_column(header, justify="left" if left else "right", no_wrap=left)
        for r in rows:
            table.add_row(*(_cell(r[c], tz) for c in headers))
        console.print(table)


def _parse_levels(items: list[str]) -> dict[str, float]:
    levels: dict[str, float] = {}
    for item in items:
        queue, sep, secs = item.partition("=")
        try:
            if not sep:
                raise ValueError
            levels[queue] = float(secs)
        except ValueError:
            raise typer.BadParameter(f"{item!r}: use QUEUE=SECONDS") from None
    return levels


def register(app: typer.Typer) -> None:
    store = typer.Typer(help="The SQL store: schema upgrades and insert benchmark.", no_args_is_help=True)

    @app.command("report")
    def report(
        from_: Annotated[
            str, typer.Option("--from", help="Start (ISO 8601; without a zone: the report's zone).")
        ],
        to: Annotated[str, typer.Option("--to", help="End, exclusive (ISO 8601; as --from).")],
        store_url: Annotated[
            str | None,
            typer.Option("--store-url", help=f"Store URL (default ${environment.STORE_URL} or sqlite)."),
        ] = None,
        fmt: Annotated[Format, typer.Option("--format", help="table, csv or json.")] = Format.TABLE,
        service_level: Annotated[
            list[str] | None,
            typer.Option("--service-level", help="QUEUE=SECONDS threshold; repeatable."),
        ] = None,
        default_service_level: Annotated[
            float, typer.Option("--default-service-level", help="Threshold for other queues, seconds.")
        ] = 20.0,
        config: Annotated[
            Path | None,
            typer.Option("--config", "-c", help="Centre config: its time zone (and queues' service levels)."),
        ] = None,
        tz_name: Annotated[
            str | None,
            typer.Option("--tz", help="IANA time zone of the report; default the centre's, else UTC."),
        ] = None,
        rows_of: Annotated[
            Rows,
            typer.Option(
                "--rows",
                help="queues (offered, SL, ASA, AHT per queue) or agents (handled, AHT, talk, "
                "wrap-up, hold and seconds per state per agent).",
            ),
        ] = Rows.QUEUES,
    ) -> None:
        """(Re)compute the 15-minute interval rows of a period and print the queue or agent
        rows, with times in the centre's time zone (`--config`) or `--tz`."""
        levels = _parse_levels(service_level or [])
        zone: tzinfo = UTC
        if config is not None:
            cfg = load_or_exit(config, 1)
            zone = cfg.centre.tz
            for q in cfg.queues:
                levels.setdefault(q.name, q.service_level_s)
        if tz_name is not None:
            try:
                zone = ZoneInfo(tz_name)
            except (ZoneInfoNotFoundError, ValueError):
                raise typer.BadParameter(f"unknown time zone {tz_name!r} (e.g. Asia/Shanghai)") from None
        start, end = _when_in(from_, zone), _when_in(to, zone)
        if end <= start:
            raise typer.BadParameter("--to must be after --from")
        url = store_url or environment.get(environment.STORE_URL, DEFAULT_STORE_URL)
        rows = asyncio.run(_report(url, start, end, levels, default_service_level, rows_of))
        render(rows, fmt, Console(soft_wrap=fmt is not Format.TABLE), zone, rows_of)

    @store.command("upgrade")
    def upgrade(
        store_url: Annotated[str | None, typer.Option("--store-url", help="Store URL.")] = None,
    ) -> None:
        """Create or upgrade the store's tables (Alembic, to head)."""
        from cc_router.store.migrations import migrate

        url = store_url or environment.get(environment.STORE_URL, DEFAULT_STORE_URL)
        asyncio.run(migrate(url))
        typer.echo("store at head")

    @store.command("bench")
    def bench(
        store_url: Annotated[str | None, typer.Option("--store-url", help="Store URL.")] = None,
        rows: Annotated[int, typer.Option("--rows", help="InteractionFinished rows to write.")] = 20_000,
    ) -> None:
        """Print the sustained insert rate through StoreWriter, as JSON."""
        from cc_router.store.writer import bench_store

        url = store_url or environment.get(environment.STORE_URL, DEFAULT_STORE_URL)
        typer.echo(json.dumps(asyncio.run(bench_store(url, rows))))

    app.add_typer(store, name="store")
