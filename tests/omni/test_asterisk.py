"""SMS and fax through the real Asterisk sandbox: SIP MESSAGE from SIPp -> CCRMessage ->
campaign enrolment + MessageSend reply back to SIPp, or an SMS task; a sent fax -> a fax task."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import pytest_asyncio

from cc_router.core.spec import Channel
from cc_router.omni.attach import Omni, build, install
from cc_router.omni.campaigns import enrolments
from cc_router.sandbox import SandboxSettings, SandboxStatus
from cc_router.testing.live import AmiAdmin, LiveService, sandbox_config, wait_until
from tests.asterisk.conftest import sandbox, sandbox_settings

__all__ = ["sandbox", "sandbox_settings"]

pytestmark = pytest.mark.asterisk
SIPP = Path(__file__).parent / "sipp"
SEND_PORT, REPLY_PORT, PLAIN_PORT = 15161, 15162, 15163


def centre() -> str:
    now = datetime.now(UTC)
    return f"""
skills: [marketing, sales]
agents:
  - {{id: m1, profile: written, skills: {{marketing: 5, sales: 5}}}}
profiles:
  written: {{capacity: {{sms: 3, fax: 1}}}}
queues:
  - {{name: sms_marketing, channel: sms, requirement: marketing, ring_timeout_s: 60}}
  - {{name: fax_orders, channel: fax, requirement: sales, ring_timeout_s: 300}}
numbers:
  "10658000": {{queue: sms_marketing, attributes: {{lob: marketing}}}}
  "9555": {{queue: fax_orders, attributes: {{lob: sales}}}}
campaigns:
  - name: live_2012
    service_number: "10658000"
    keyword: "2012"
    start: {(now - timedelta(days=1)).isoformat()}
    end: {(now + timedelta(days=1)).isoformat()}
    reply_enrolled: 您已成功参加“2012”优惠活动，谢谢！【中国移动】
    reply_repeat: 您已参加过本次活动。
"""


@pytest_asyncio.fixture
async def live_omni(
    sandbox: SandboxStatus, sandbox_settings: SandboxSettings, tmp_path: Path
) -> AsyncIterator[tuple[LiveService, Omni]]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'omni.db'}"
    live = LiveService(sandbox_config(centre(), sandbox_settings, store_url=url))
    omni = install(
        live.service, build(live.service, live.writer.engine, migrate_schema=False), nodes=live.nodes
    )
    assert omni.asterisk is not None
    # The sandbox trunk has no fixed contact: the "gateway" is the SIPp receiver.
    omni.asterisk.reply_template = f"pjsip:trunk/sip:{{user}}@127.0.0.1:{REPLY_PORT}"
    await live.start()
    run = asyncio.create_task(omni.component.run())
    await asyncio.wait_for(omni.intake.ready.wait(), 15)
    yield live, omni
    run.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await run
    await live.stop()


async def sipp(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        "sipp", *args, "-i", "127.0.0.1", "-m", "1", "-nostdin", "-timeout", "15",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL, cwd="/tmp",
    )  # fmt: skip


async def send_sms(settings: SandboxSettings, body: str, port: int, number: str = "10658000") -> int | None:
    proc = await sipp("-sf", str(SIPP / "sms_send.xml"), "-s", number, "-p", str(port),
                      "-key", "cnum", "13800138000", "-key", "replyport", str(REPLY_PORT),
                      "-key", "body", body, settings.sip)  # fmt: skip
    return await asyncio.wait_for(proc.wait(), 20)


@pytest.mark.asyncio
async def test_sip_message_keyword_enrols_and_the_reply_reaches_the_phone(
    live_omni: tuple[LiveService, Omni], sandbox_settings: SandboxSettings, tmp_path: Path
) -> None:
    live, omni = live_omni
    trace = tmp_path / "reply.log"
    phone = await sipp("-sf", str(SIPP / "sms_receive.xml"), "-p", str(REPLY_PORT),
                       "-trace_msg", "-message_file", str(trace))  # fmt: skip
    await asyncio.sleep(0.3)
    assert await send_sms(sandbox_settings, "２０１２", SEND_PORT) == 0  # full-width, as phones send it
    assert await asyncio.wait_for(phone.wait(), 20) == 0
    assert omni.asterisk is not None and omni.asterisk.replies_sent == 1
    got = trace.read_text(encoding="utf-8")
    assert "MESSAGE sip:13800138000@127.0.0.1:15162" in got
    assert "From: <sip:10658000@127.0.0.1>" in got
    assert "您已成功参加“2012”优惠活动，谢谢！【中国移动】" in got
    rows = await enrolments(live.writer.engine, "live_2012")
    assert [r["subscriber"] for r in rows] == ["13800138000"]
    assert rows[0]["message_id"]  # the CCRMessage Uniqueid
    assert not any(i.startswith("sms-") for i in live.service.router.interactions)


@pytest.mark.asyncio
async def test_sip_message_with_other_text_becomes_an_sms_task(
    live_omni: tuple[LiveService, Omni], sandbox_settings: SandboxSettings
) -> None:
    live, omni = live_omni
    live.login("m1")
    body = '2012 报名，谢谢, "ok"'
    assert await send_sms(sandbox_settings, body, PLAIN_PORT) == 0
    await wait_until(lambda: bool(omni.board.pending("m1")), 10, "SMS offer to m1")
    [offer] = omni.board.pending("m1")
    assert offer.channel == "sms" and offer.queue == "sms_marketing"
    assert offer.task["body"] == body and offer.task["customer"] == "13800138000"
    assert offer.task["attributes"]["lob"] == "marketing"
    it = live.service.router.interactions[offer.task_id]
    assert it.channel is Channel.SMS
    stored = await omni.store.get(offer.task_id)
    assert stored is not None and stored.source == "sms" and stored.payload["body"] == body


@pytest.mark.asyncio
async def test_two_texts_from_one_phone_are_two_sms_tasks(
    live_omni: tuple[LiveService, Omni], sandbox_settings: SandboxSettings
) -> None:
    # Asterisk gives every text on its Message channel the same Uniqueid: the second SMS
    # must not pass for a retry of the first.
    live, omni = live_omni
    live.login("m1")
    assert await send_sms(sandbox_settings, "查询话费", PLAIN_PORT) == 0
    await wait_until(lambda: len(omni.board.pending("m1")) == 1, 10, "first SMS offer")
    assert await send_sms(sandbox_settings, "还有流量", PLAIN_PORT) == 0

    def sms_tasks() -> list[str]:
        return sorted(str(t.summary["body"]) for t in omni.tracker.active.values() if t.channel == "sms")

    await wait_until(lambda: len(sms_tasks()) == 2, 10, "second SMS task")
    assert sms_tasks() == ["查询话费", "还有流量"]


@pytest.mark.asyncio
async def test_received_fax_becomes_a_fax_task(
    live_omni: tuple[LiveService, Omni], sandbox_settings: SandboxSettings
) -> None:
    live, omni = live_omni
    admin = await AmiAdmin(sandbox_settings).connect()
    try:
        reply = await admin.action({
            "Action": "Originate", "Channel": "Local/fax@ccr-fax-send", "Context": "ccr-fax",
            "Exten": "9555", "Priority": "1", "Async": "true", "CallerID": "Fax Test <13700137000>",
        })  # fmt: skip
        assert reply["Response"] == "Success", reply
        # One page of G.711 fax takes about 14 s.
        await wait_until(lambda: any(t.startswith("fax-") for t in omni.tracker.active), 40, "fax task")
    finally:
        await admin.close()
    task_id = next(t for t in omni.tracker.active if t.startswith("fax-"))
    it = live.service.router.interactions[task_id]
    assert it.queue.name == "fax_orders" and it.caller == "13700137000"
    assert it.attributes["status"] == "SUCCESS" and it.attributes["pages"] == "1"
    assert it.attributes["file"].startswith("/var/spool/asterisk/fax/") and it.attributes["file"].endswith(
        ".tif"
    )
    live.login("m1")
    [offer] = omni.board.pending("m1")
    assert offer.task_id == task_id and offer.channel == "fax"
