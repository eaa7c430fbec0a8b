"""Campaign enrolment (SQLite and PostgreSQL), message routing and the settlement export."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from typer.testing import CliRunner

from cc_router.cli.main import app
from cc_router.config import Config
from cc_router.omni.campaigns import InboundMessage, Outcome, enrol, enrolments
from cc_router.store import migrate
from cc_router.store.omni_tables import campaign_enrolments

from .conftest import CENTRE_YAML, start_omni, stop_omni

SH = ZoneInfo("Asia/Shanghai")
INSIDE = datetime(2027, 1, 25, 9, 30, tzinfo=SH)


def sms(body: str, sender: str = "<sip:13800138000@127.0.0.1:15091>", at: datetime = INSIDE, mid: str = "m1"):  # type: ignore[no-untyped-def]
    return InboundMessage(
        sender=sender, to="pjsip:10658000@127.0.0.1", number="10658000", body=body, message_id=mid,
        node="ast1", received_at=at,
    )  # fmt: skip


@pytest.mark.asyncio
async def test_enrol_is_idempotent_under_concurrent_duplicates(any_engine: AsyncEngine) -> None:
    await migrate(any_engine)
    results = await asyncio.gather(
        *(enrol(any_engine, "spring_2012", "13800138000", "10658000", f"m{i}", INSIDE) for i in range(20))
    )
    assert sorted(results) == [False] * 19 + [True]
    assert await enrol(any_engine, "spring_2012", "13900139000", "10658000", "x", INSIDE) is True
    assert await enrol(any_engine, "other", "13800138000", "10658000", "y", INSIDE) is True  # per campaign
    async with any_engine.connect() as conn:
        n = (await conn.execute(select(func.count()).select_from(campaign_enrolments))).scalar_one()
    assert n == 3
    rows = await enrolments(any_engine, "spring_2012")
    assert [r["subscriber"] for r in rows] == ["13800138000", "13900139000"]
    assert rows[0]["enrolled_at"] == INSIDE  # aware, same instant


@pytest.mark.asyncio
async def test_messages_enrol_repeat_outside_and_task(config: Config, sqlite_engine: AsyncEngine) -> None:
    service, omni, run = await start_omni(config, sqlite_engine)
    replies: list[tuple[str, str]] = []

    async def reply(msg: InboundMessage, text: str) -> None:
        replies.append((msg.sender, text))

    omni.messages.reply = reply
    camp = config.campaigns[0]
    try:
        r1 = await omni.messages.handle(sms(" ２０１２ "))
        r2 = await omni.messages.handle(sms("2012", mid="m2"))
        r3 = await omni.messages.handle(
            sms("2012", sender="<sip:13900139000@h>", at=datetime(2027, 2, 1, tzinfo=UTC))
        )
        r4 = await omni.messages.handle(sms("2012 报名，谢谢", mid="m4"))
        assert [r.outcome for r in (r1, r2, r3, r4)] == [
            Outcome.ENROLLED, Outcome.REPEAT, Outcome.OUTSIDE, Outcome.TASK
        ]  # fmt: skip
        assert [t for _, t in replies] == [camp.reply_enrolled, camp.reply_repeat, camp.reply_outside]
        assert [r["subscriber"] for r in await enrolments(sqlite_engine, "spring_2012")] == ["13800138000"]
        it = service.router.interactions[r4.task_id]
        assert it.queue.name == "sms_marketing" and it.caller == "13800138000"
        assert it.attributes["lob"] == "marketing" and it.attributes["message_id"] == "m4"
        stored = await omni.store.get(r4.task_id)
        assert stored is not None and stored.payload["body"] == "2012 报名，谢谢"
    finally:
        await stop_omni(run)


@pytest.mark.asyncio
async def test_reply_failure_keeps_the_enrolment(config: Config, sqlite_engine: AsyncEngine) -> None:
    _, omni, run = await start_omni(config, sqlite_engine)

    async def broken(msg: InboundMessage, text: str) -> None:
        raise ConnectionError("Asterisk away")

    omni.messages.reply = broken
    try:
        assert (await omni.messages.handle(sms("2012"))).outcome is Outcome.ENROLLED
        assert len(await enrolments(sqlite_engine, "spring_2012")) == 1
    finally:
        await stop_omni(run)


@pytest.mark.asyncio
async def test_sms_to_an_unmapped_number_goes_to_the_first_sms_queue(
    config: Config, sqlite_engine: AsyncEngine
) -> None:
    service, omni, run = await start_omni(config, sqlite_engine)
    try:
        msg = InboundMessage("<sip:1@h>", "pjsip:12345@h", "12345", "你好", "m9", "ast1")
        r = await omni.messages.handle(msg)
        assert r.outcome is Outcome.TASK
        assert service.router.interactions[r.task_id].queue.name == "sms_marketing"
        assert r.task_id == "sms-ast1-m9"
        again = await omni.messages.handle(msg)  # the same AMI event twice: one task
        assert again.task_id == r.task_id and len(service.router.interactions) == 1
    finally:
        await stop_omni(run)


def test_cli_export_writes_csv_in_centre_time(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'c.db'}"
    cfg = tmp_path / "centre.yaml"
    cfg.write_text(CENTRE_YAML, encoding="utf-8")

    async def fill() -> None:
        from sqlalchemy.ext.asyncio import create_async_engine

        eng = create_async_engine(url)
        await migrate(eng)
        await enrol(eng, "spring_2012", "13800138000", "10658000", "1795966419.0",
                    datetime(2027, 1, 22, 16, 0, 5, tzinfo=UTC))  # fmt: skip
        await enrol(eng, "spring_2012", "13900139000", "10658000", "1795966420.1", INSIDE)
        await eng.dispose()

    asyncio.run(fill())
    out = tmp_path / "settle.csv"
    result = CliRunner().invoke(
        app, ["campaign", "export", "spring_2012", "--store-url", url, "--out", str(out), "-c", str(cfg)]
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert rows == [
        ["subscriber", "enrolled_at", "message_id"],
        ["13800138000", "2027-01-23T00:00:05+08:00", "1795966419.0"],
        ["13900139000", "2027-01-25T09:30:00+08:00", "1795966420.1"],
    ]
    listed = CliRunner().invoke(app, ["campaign", "list", "-c", str(cfg)])
    assert (
        listed.exit_code == 0
        and "spring_2012" in listed.output
        and "2027-01-23T00:00:00+08:00" in listed.output
    )
