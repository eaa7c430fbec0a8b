"""The day's reports in the centre's time zone (Asia/Shanghai): per-agent handled count,
talk, wrap-up, hold and average handle time per 15-minute interval, and CSV."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import insert

from cc_router.store.tables import AgentIntervalRow, InteractionRow, QueueIntervalRow
from tests.console.stack import console_stack, login

# 08:00 in Shanghai is 00:00 UTC.
EIGHT_LOCAL = datetime(2027, 1, 23, 0, 0, tzinfo=UTC)


def _call(
    iid: str, agent: str, queue: str, minute: int, talk: float, hold: float | None = None
) -> dict[str, object]:
    t = EIGHT_LOCAL.replace(minute=minute)
    return {
        "interaction_id": iid, "channel": "voice", "queue": queue, "caller": "13800138000",
        "agent_id": agent, "enqueued_at": t, "offered_at": t, "answered_at": t, "ended_at": t,
        "outcome": "answered", "wait_s": 5.0, "talk_s": talk, "hold_s": hold, "step": 0, "misses": 0,
        "disposition": "agent_hangup", "explanation": None,
    }  # fmt: skip


def _states(agent: str, wrap: float) -> dict[str, object]:
    return {
        "interval_start": EIGHT_LOCAL, "agent_id": agent, "logged_in_s": 900.0, "ready_s": 300.0,
        "reserved_s": 10.0, "busy_s": 400.0, "wrap_up_s": wrap, "paused_s": 90.0, "pause_by_reason": {},
    }  # fmt: skip


@pytest.mark.asyncio
async def test_agent_and_queue_day_in_local_time(tmp_path: Path) -> None:
    async with console_stack(tmp_path) as stack:
        async with stack.engine.begin() as conn:
            await conn.execute(
                insert(InteractionRow),
                [
                    _call("c1", "1001", "billing", 1, 100.0, hold=20.0),
                    _call("c2", "1001", "billing", 5, 200.0, hold=15.5),
                    _call("c3", "1002", "sales", 7, 60.0),  # stored before hold was recorded
                ],
            )
            await conn.execute(insert(AgentIntervalRow), [_states("1001", 30.0), _states("1002", 0.0)])
            await conn.execute(
                insert(QueueIntervalRow).values(
                    interval_start=EIGHT_LOCAL,
                    queue="billing",
                    channel="voice",
                    service_level_s=20.0,
                    offered=2,
                    answered=2,
                    abandoned=0,
                    abandoned_after_sl=0,
                    overflowed=0,
                    timed_out=0,
                    other_exits=0,
                    answered_within_sl=2,
                    sl_pct=100.0,
                    asa_s=5.0,
                    aht_s=150.0,
                    max_wait_s=5.0,
                )
            )
        async with httpx.AsyncClient(base_url=stack.base) as client:
            boss = await login(client, "boss")
            r = await client.get("/api/reports/agents", headers=boss, params={"date": "2027-01-23"})
            assert r.status_code == 200, r.text
            body = r.json()
            assert body["timezone"] == "Asia/Shanghai"
            rows = {row["agent_id"]: row for row in body["rows"]}
            assert rows["1001"] == {
                "interval": "2027-01-23T08:00+08:00",
                "agent_id": "1001",
                "handled": 2,
                "aht_s": 165.0,  # (100 + 200 talk + 30 wrap-up) / 2
                "talk_s": 300.0,
                "wrap_s": 30.0,
                "hold_s": 35.5,
                "ready_s": 300.0,
                "paused_s": 90.0,
                "logged_in_s": 900.0,
            }
            assert rows["1002"]["handled"] == 1 and rows["1002"]["aht_s"] == 60.0
            assert rows["1002"]["hold_s"] is None  # unknown, not none
            # The day before in Shanghai has none of it.
            r = await client.get("/api/reports/agents", headers=boss, params={"date": "2027-01-22"})
            assert r.json()["rows"] == []

            q = await client.get("/api/reports/queues", headers=boss, params={"date": "2027-01-23"})
            assert [(x["interval"], x["queue"], x["answered"]) for x in q.json()["rows"]] == [
                ("2027-01-23T08:00+08:00", "billing", 2)
            ]
            csv = await client.get(
                "/api/reports/agents", headers=boss, params={"date": "2027-01-23", "format": "csv"}
            )
            assert csv.headers["content-type"].startswith("text/csv")
            assert 'filename="agents-2027-01-23.csv"' in csv.headers["content-disposition"]
            lines = csv.text.splitlines()
            assert (
                lines[0]
                == "interval,agent_id,handled,aht_s,talk_s,wrap_s,hold_s,ready_s,paused_s,logged_in_s"
            )
            assert "2027-01-23T08:00+08:00,1001,2,165.0,300.0,30.0,35.5,300.0,90.0,900.0" in lines

            # A supervisor of sales sees its own agent and queue only; an agent nothing.
            sales_lead = await login(client, "sales_lead")
            r = await client.get("/api/reports/agents", headers=sales_lead, params={"date": "2027-01-23"})
            assert [row["agent_id"] for row in r.json()["rows"]] == ["1002"]
            r = await client.get("/api/reports/queues", headers=sales_lead, params={"date": "2027-01-23"})
            assert r.json()["rows"] == []
            zhang = await login(client, "zhang")
            assert (await client.get("/api/reports/agents", headers=zhang)).status_code == 403
            bad = await client.get("/api/reports/agents", headers=boss, params={"date": "23/01/2027"})
            assert bad.status_code == 400


def test_cli_report_in_the_centres_time_zone(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from tests.store.test_reports import START, T0, report_cli

    app, url = report_cli(tmp_path)
    (tmp_path / "centre.yaml").write_text("centre: {name: 洛阳, timezone: Asia/Shanghai}\n")
    shanghai = ZoneInfo("Asia/Shanghai")
    # Naive times are the centre's local times.
    frm = datetime.fromtimestamp(T0, tz=shanghai).replace(tzinfo=None).isoformat()
    to = datetime.fromtimestamp(T0 + 1800, tz=shanghai).replace(tzinfo=None).isoformat()
    args = ["report", "--from", frm, "--to", to, "--store-url", url, "--format", "csv"]
    res = CliRunner().invoke(app, [*args, "--config", str(tmp_path / "centre.yaml")])
    assert res.exit_code == 0, res.output
    lines = res.output.strip().splitlines()
    assert lines[1].startswith(f"{START.astimezone(shanghai).isoformat()},billing_zh,voice,10,5,3")
    assert "+08:00" in lines[1]
    res = CliRunner().invoke(app, [*args, "--tz", "Mars/Olympus"])
    assert res.exit_code != 0 and "unknown time zone" in res.output


def test_cli_report_agent_rows(tmp_path: Path) -> None:
    import json

    from typer.testing import CliRunner

    from tests.store.test_reports import T0, report_cli

    app, url = report_cli(tmp_path)
    shanghai = ZoneInfo("Asia/Shanghai")
    frm = datetime.fromtimestamp(T0, tz=UTC).isoformat()
    to = datetime.fromtimestamp(T0 + 1800, tz=UTC).isoformat()
    base = ["report", "--from", frm, "--to", to, "--store-url", url, "--tz", "Asia/Shanghai"]
    res = CliRunner().invoke(app, [*base, "--rows", "agents", "--format", "json"])
    assert res.exit_code == 0, res.output
    first, second = json.loads(res.output)
    # Five billing calls answered by a1 in the first interval (talk 100..500 s, no wrap-up),
    # its ready and paused seconds beside them; the sales call in the next interval.
    assert first["agent_id"] == "a1" and first["handled"] == 5
    assert first["talk_s"] == 1500 and first["aht_s"] == 300 and first["wrap_s"] == 0
    assert first["ready_s"] == 500 and first["paused_s"] == 300
    assert first["interval_start"] == datetime.fromtimestamp(T0, tz=shanghai).isoformat()
    assert second["handled"] == 1 and second["talk_s"] == 60 and second["paused_s"] == 300
    table = CliRunner().invoke(app, [*base, "--rows", "agents"])
    assert table.exit_code == 0 and "handled" in table.output and "Asia/Shanghai" in table.output
    csv_out = CliRunner().invoke(app, [*base, "--rows", "agents", "--format", "csv"])
    assert csv_out.output.splitlines()[0] == (
        "interval_start,agent_id,handled,aht_s,talk_s,wrap_s,hold_s,ready_s,paused_s,logged_in_s"
    )
    bad = CliRunner().invoke(app, [*base, "--rows", "seats"])
    assert bad.exit_code != 0
