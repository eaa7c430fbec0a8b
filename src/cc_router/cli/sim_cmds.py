"""`cc-router simulate` and `cc-router replay`: the what-if simulator."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from cc_router.cli.options import parse_when


def _load(config: Path, traffic: Path | None) -> tuple[Any, Any]:
    from cc_router.config import ConfigError, load_config
    from cc_router.sim.traffic import Traffic, TrafficError, load_traffic

    try:
        cfg = load_config(config)
        tr = load_traffic(traffic) if traffic is not None else Traffic.model_validate({})
    except (ConfigError, TrafficError) as e:
        typer.echo(str(e), err=True)
        raise typer.Exit(1) from None
    return cfg, tr


def _factory(router: str) -> Any:
    from cc_router.core.router import Router
    from cc_router.sim.app_queue import AppQueueOptions, AqStrategy, app_queue_factory

    if router == "cc-router":
        return Router
    name = router.removeprefix("app_queue").lstrip(":")
    try:
        return app_queue_factory(AppQueueOptions(strategy=AqStrategy(name) if name else None))
    except ValueError:
        raise typer.BadParameter(
            f"{router!r}: use cc-router, app_queue or app_queue:STRATEGY "
            f"({', '.join(s.value for s in AqStrategy)})"
        ) from None


def simulate(
    config: Annotated[Path, typer.Option(help="cc-router YAML config.", dir_okay=False)],
    traffic: Annotated[
        Path, typer.Option(help="Traffic file (see config/traffic-example.yaml).", dir_okay=False)
    ],
    seed: Annotated[int, typer.Option(help="Same seed, same callers and agents.")] = 1,
    out: Annotated[
        Path | None, typer.Option(help="Write CSV, JSON and PNG charts here.", file_okay=False)
    ] = None,
    router: Annotated[
        str, typer.Option(help="cc-router, or app_queue[:strategy] to run the app_queue model instead.")
    ] = "cc-router",
    charts: Annotated[bool, typer.Option(help="Draw PNG charts into --out.")] = True,
) -> None:
    """Simulate a day (or days) of traffic against a config with the real routing core."""
    from cc_router.sim.outputs import queue_totals, write_outputs
    from cc_router.sim.run import simulate as run
    from cc_router.sim.traffic import TrafficError

    cfg, tr = _load(config, traffic)
    try:
        result = run(cfg.to_centre(), tr, seed=seed, tz=cfg.centre.tz, router_factory=_factory(router))
    except TrafficError as e:
        typer.echo(f"{traffic}: {e}", err=True)
        raise typer.Exit(1) from None
    console = Console()
    table = Table(title=f"{cfg.centre.name}: {tr.date} x {tr.days} day(s), seed {seed}, {router}")
    cols = ("queue", "offered", "answered", "abandoned", "sl_pct", "asa_s", "max_wait_s", "timed_out")
    heads = ("queue", "offered", "ans", "abn", "SL %", "ASA s", "max wait s", "timed out")
    for c, h in zip(cols, heads, strict=True):
        table.add_column(h, justify="left" if c == "queue" else "right", no_wrap=c == "queue")
    for row in queue_totals(result):
        table.add_row(*(_cell(row.get(c)) for c in cols))
    console.print(table)
    s = result.summary()
    console.print(
        f"voice: SL {_cell(s['sl_pct'])} %, ASA {_cell(s['asa_s'])} s, abandoned {s['abandoned']} "
        f"({_cell(s['abandon_pct'])} %); agent occupancy mean {_pct(s['occ_mean'])} % "
        f"(sd {_pct(s['occ_stddev'])}); {s['arrivals']} interactions in {s['wall_s']} s wall"
        + (f"; {s['unfinished']} still open at the end" if s["unfinished"] else "")
    )
    if out is not None:
        for p in write_outputs(result, out, charts=charts):
            console.print(f"wrote {p}")


def replay(
    config: Annotated[Path, typer.Option(help="The config to re-route under.", dir_okay=False)],
    store: Annotated[str | None, typer.Option(help="SQLAlchemy async URL of a cc-router store.")] = None,
    queue_log: Annotated[
        Path | None, typer.Option(help="An Asterisk queue_log file.", dir_okay=False)
    ] = None,
    traffic: Annotated[
        Path | None, typer.Option(help="Staffing and agent behaviour (its arrival rates are ignored).")
    ] = None,
    since: Annotated[str | None, typer.Option("--from", help="ISO time (UTC if no zone).")] = None,
    until: Annotated[str | None, typer.Option("--to", help="ISO time (UTC if no zone).")] = None,
    seed: Annotated[int, typer.Option()] = 1,
    out: Annotated[
        Path | None, typer.Option(help="Write results (and comparison.json) here.", file_okay=False)
    ] = None,
    router: Annotated[str, typer.Option(help="cc-router or app_queue[:strategy].")] = "cc-router",
) -> None:
    """Re-route recorded traffic under a config and show SL, waits and abandons before and after."""
    from cc_router.sim.outputs import write_outputs
    from cc_router.sim.replay import compare_rows, read_queue_log, read_store
    from cc_router.sim.replay import replay as run

    if (store is None) == (queue_log is None):
        raise typer.BadParameter("give exactly one of --store and --queue-log")
    cfg, tr = _load(config, traffic)
    if store is not None:
        visits = read_store(store, _when(since), _when(until))
    else:
        assert queue_log is not None
        visits = read_queue_log(queue_log)
        lo, hi = _when(since), _when(until)
        visits = [
            v
            for v in visits
            if (lo is None or v.enqueued_at >= lo.timestamp())
            and (hi is None or v.enqueued_at < hi.timestamp())
        ]
    centre = cfg.to_centre()
    try:
        after, before, warnings = run(
            visits, centre, tr, seed=seed, tz=cfg.centre.tz, router_factory=_factory(router)
        )
    except ValueError as e:
        typer.echo(str(e), err=True)
        raise typer.Exit(1) from None
    console = Console()
    for w in warnings:
        console.print(f"[yellow]warning:[/] {w}", soft_wrap=True)
    rows = compare_rows(before, after.stats, [q.name for q in centre.queues])
    table = Table(title=f"replay of {len(visits)} recorded visits under {config} ({router})")
    table.add_column("queue", no_wrap=True)
    for head in (
        "offered",
        "SL % before",
        "SL % after",
        "ASA before",
        "ASA after",
        "abn % before",
        "abn % after",
    ):
        table.add_column(head, justify="right")
    for r in rows:
        table.add_row(
            r["queue"],
            str(r["offered_before"]),
            _cell(r["sl_pct_before"]),
            _cell(r["sl_pct_after"]),
            _cell(r["asa_s_before"]),
            _cell(r["asa_s_after"]),
            _cell(r["abandon_pct_before"]),
            _cell(r["abandon_pct_after"]),
        )
    console.print(table)
    if out is not None:
        after.extras["comparison"] = rows
        for p in write_outputs(after, out):
            console.print(f"wrote {p}")
        (out / "comparison.json").write_text(json.dumps(rows, indent=1), encoding="utf-8")


def _when(text: str | None) -> datetime | None:
    return None if text is None else parse_when(text)


def _cell(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.1f}"
    return str(v)


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.1f}"


def register(app: typer.Typer) -> None:
    app.command("simulate")(simulate)
    app.command("replay")(replay)
