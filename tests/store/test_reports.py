from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from typer.testing import CliRunner

from cc_router.store import StoreWriter, write_intervals
from cc_router.store.reports import compute_agent_intervals, compute_queue_intervals, read_queue_intervals
from cc_router.store.tables import agent_intervals, queue_intervals, utc
from tests.store.factories import T0, finished, state

START = utc(T0)


def _sl_data() -> list[Any]:
    """Ten calls into billing_zh in one interval, threshold 20 s:
    answered at 5, 10, 20 (within), 25, 40 (late); abandoned at 3, 15 (short: ignored),
    30 (late); one timed out at 300, one overflowed at 60 (exits: not in the ratio)."""
    return [
        finished("a5", wait_s=5, talk_s=100),
        finished("a10", wait_s=10, talk_s=200),
        finished("a20", wait_s=20, talk_s=300),
        finished("a25", wait_s=25, talk_s=400),
        finished("a40", wait_s=40, talk_s=500),
        finished("x3", outcome="abandoned", wait_s=3),
        finished("x15", outcome="abandoned_ringing", wait_s=15),
        finished("x30", outcome="abandoned", wait_s=30),
        finished("t300", outcome="timed_out", wait_s=300),
        finished("o60", outcome="overflowed", wait_s=60, disposition="max_wait"),
    ]


def test_service_level_on_a_hand_built_set() -> None:
    rows = [{**_row(c)} for c in _sl_data()]
    (q,) = compute_queue_intervals(rows, {"billing_zh": 20})
    assert q["offered"] == 10
    assert q["answered"] == 5 and q["answered_within_sl"] == 3
    assert q["abandoned"] == 3 and q["abandoned_after_sl"] == 1
    assert q["timed_out"] == 1 and q["overflowed"] == 1 and q["other_exits"] == 0
    # 3 / (5 answered + 1 abandoned after 20 s)
    assert q["sl_pct"] == pytest.approx(50.0)
    assert q["asa_s"] == pytest.approx(20.0)  # (5+10+20+25+40)/5
    assert q["aht_s"] == pytest.approx(300.0)
    assert q["max_wait_s"] == 300
    # Another threshold for the same data: 30 s makes 4 answered within, 0 abandoned after.
    (q30,) = compute_queue_intervals(rows, {}, default_service_level_s=30)
    assert q30["sl_pct"] == pytest.approx(100.0 * 4 / 5)


def _row(c: Any) -> dict[str, Any]:
    from cc_router.store.writer import _interaction_row

    return _interaction_row(c)


def test_agent_state_split_across_a_boundary() -> None:
    # Paused 10:10 -> 10:20 relative to a boundary at T0 + 900.
    b = T0 + 900
    rows = [
        {
            "agent_id": "a1",
            "state": "ready",
            "reason": "",
            "started_at": utc(b - 700),
            "ended_at": utc(b - 300),
        },
        {
            "agent_id": "a1",
            "state": "paused",
            "reason": "lunch",
            "started_at": utc(b - 300),
            "ended_at": utc(b + 300),
        },
        {"agent_id": "a1", "state": "busy", "reason": "", "started_at": utc(b + 300), "ended_at": None},
    ]
    out = compute_agent_intervals(rows, START, utc(T0 + 1800), now=utc(b + 400))
    assert [(r["interval_start"], r["agent_id"]) for r in out] == [(START, "a1"), (utc(b), "a1")]
    first, second = out
    assert first["ready_s"] == 400 and first["paused_s"] == 300 and first["logged_in_s"] == 700
    assert first["pause_by_reason"] == {"lunch": 300}
    assert second["paused_s"] == 300 and second["pause_by_reason"] == {"lunch": 300}
    assert second["busy_s"] == 100  # the open interval runs to `now`
    assert second["logged_in_s"] == 400


async def _fill(engine: AsyncEngine) -> None:
    writer = StoreWriter("unused://", engine=engine)
    writer.submit(_sl_data(), T0)
    writer.submit([finished("next", enqueued_at=T0 + 950, queue="sales", wait_s=2)], T0)
    writer.submit(
        [
            state("a1", "ready", T0 + 100, "logged_out", 0.0),
            state("a1", "paused", T0 + 600, "ready", T0 + 100, "training"),
            state("a1", "logged_out", T0 + 1200, "paused", T0 + 600),
        ],
        T0,
    )
    await writer.close()


async def _snapshot(engine: AsyncEngine) -> tuple[list[Any], list[Any]]:
    async with engine.connect() as conn:
        q = (await conn.execute(select(queue_intervals).order_by(*queue_intervals.primary_key))).all()
        a = (await conn.execute(select(agent_intervals).order_by(*agent_intervals.primary_key))).all()
    return list(q), list(a)


@pytest.mark.asyncio
async def test_write_intervals_is_idempotent(engine: AsyncEngine) -> None:
    await _fill(engine)
    now = utc(T0 + 7200)
    first = await write_intervals(engine, START, utc(T0 + 1800), {"billing_zh": 20}, now=now)
    snap1 = await _snapshot(engine)
    second = await write_intervals(engine, START, utc(T0 + 1800), {"billing_zh": 20}, now=now)
    snap2 = await _snapshot(engine)
    assert first == second and snap1 == snap2
    assert first.queue_rows == 2 and first.agent_rows == 2
    qrows, arows = snap1
    assert qrows[0].interval_start == START and qrows[0].sl_pct == pytest.approx(50.0)
    assert arows[0].ready_s == 500 and arows[0].paused_s == 300
    assert arows[1].paused_s == 300 and arows[1].pause_by_reason == {"training": 300}


def report_cli(tmp_path: Any) -> tuple[Any, str]:
    """The `report` command (a Typer app) and the URL of a store filled by `_fill`."""
    import asyncio

    import typer
    from sqlalchemy.ext.asyncio import create_async_engine

    from cc_router.cli.store_cmds import register
    from cc_router.store import migrate

    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"

    async def setup() -> None:
        await migrate(url)
        eng = create_async_engine(url)
        await _fill(eng)
        await eng.dispose()

    asyncio.run(setup())
    app = typer.Typer()
    register(app)
    return app, url


def test_cli_report_prints_rows(tmp_path: Any) -> None:
    app, url = report_cli(tmp_path)
    runner = CliRunner()
    frm = datetime.fromtimestamp(T0, tz=UTC).isoformat()
    to = datetime.fromtimestamp(T0 + 1800, tz=UTC).isoformat()
    res = runner.invoke(app, ["report", "--from", frm, "--to", to, "--store-url", url, "--format", "csv"])
    assert res.exit_code == 0, res.output
    lines = res.output.strip().splitlines()
    assert lines[0].startswith("interval_start,queue,channel,offered")
    assert lines[1].startswith(f"{START.isoformat()},billing_zh,voice,10,5,3,1,1,0,3,1,20.0,50.0")
    res = runner.invoke(
        app, ["report", "--from", frm, "--to", to, "--store-url", url], env={"COLUMNS": "160"}
    )
    assert res.exit_code == 0 and "billing_zh" in res.output and "50.0" in res.output
    res = runner.invoke(app, ["report", "--from", frm, "--to", to, "--store-url", url, "--format", "json"])
    assert res.exit_code == 0 and '"sl_pct": 50.0' in res.output


@pytest.mark.asyncio
async def test_read_queue_intervals_empty(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        assert await read_queue_intervals(conn, START, utc(T0 + 900)) == []
