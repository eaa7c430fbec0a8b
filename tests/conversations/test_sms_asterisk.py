"""SMS conversations through the real Asterisk sandbox: a subscriber's SIP MESSAGE becomes
a conversation, the agent's long Chinese reply leaves Asterisk as SIP MESSAGEs (one per
SMS part, UTF-8 intact) to the subscriber's phone (SIPp), and the next SMS joins the
conversation the agent holds."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from cc_router.conversations.attach import Conversations
from cc_router.conversations.attach import build as build_conversations
from cc_router.conversations.attach import install as install_conversations
from cc_router.conversations.sms_parts import sms_parts
from cc_router.omni.attach import Omni, build, install
from cc_router.sandbox import SandboxSettings, SandboxStatus
from cc_router.testing.live import LiveService, sandbox_config, wait_until
from tests.asterisk.conftest import sandbox, sandbox_settings

__all__ = ["sandbox", "sandbox_settings"]

pytestmark = [pytest.mark.asterisk, pytest.mark.asyncio]
SIPP = Path(__file__).resolve().parents[1] / "omni" / "sipp"
SEND_PORT, NEXT_PORT, REPLY_PORT = 15171, 15172, 15173

CENTRE = """
skills: [service]
agents:
  - {id: m1, profile: written, skills: {service: 5}}
profiles:
  written: {capacity: {sms: 3}}
queues:
  - {name: sms_service, channel: sms, requirement: service, ring_timeout_s: 60}
numbers:
  "10658000": {queue: sms_service}
"""
REPLY = (
    "尊敬的客户您好！您本月的套餐余量为：国内通话剩余一百二十分钟，国内流量剩余三点五GB，"
    "短信剩余八十条。如需办理流量加油包，请回复“JY”。感谢您的支持，祝您生活愉快！【中国移动】"
)


@pytest_asyncio.fixture
async def live(
    sandbox: SandboxStatus, sandbox_settings: SandboxSettings, tmp_path: Path
) -> AsyncIterator[tuple[LiveService, Omni, Conversations]]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'conv.db'}"
    live = LiveService(sandbox_config(CENTRE, sandbox_settings, store_url=url))
    omni = build(live.service, live.writer.engine, migrate_schema=False)
    conv = build_conversations(live.service, omni)
    install_conversations(conv, install(live.service, omni, nodes=live.nodes))
    assert omni.asterisk is not None
    omni.asterisk.reply_template = f"pjsip:trunk/sip:{{user}}@127.0.0.1:{REPLY_PORT}"
    await live.start()
    runs = [asyncio.create_task(omni.component.run()), asyncio.create_task(conv.component.run())]
    await asyncio.wait_for(conv.hub.ready.wait(), 15)
    yield live, omni, conv
    await conv.hub.drain()
    for r in runs:
        r.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await r
    await live.stop()


async def sipp(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        "sipp", *args, "-i", "127.0.0.1", "-nostdin", "-timeout", "20",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL, cwd="/tmp",
    )  # fmt: skip


async def send_sms(settings: SandboxSettings, body: str, port: int) -> int | None:
    proc = await sipp("-sf", str(SIPP / "sms_send.xml"), "-s", "10658000", "-p", str(port), "-m", "1",
                      "-key", "cnum", "13800138000", "-key", "replyport", str(REPLY_PORT),
                      "-key", "body", body, settings.sip)  # fmt: skip
    return await asyncio.wait_for(proc.wait(), 25)


async def test_sms_reply_leaves_asterisk_in_parts_and_the_next_sms_joins(
    live: tuple[LiveService, Omni, Conversations], sandbox_settings: SandboxSettings, tmp_path: Path
) -> None:
    svc, omni, conv = live
    hub = conv.hub
    svc.login("m1")
    assert await send_sms(sandbox_settings, "你好，查询本月套餐余量", SEND_PORT) == 0
    await wait_until(lambda: bool(omni.board.pending("m1")), 10, "SMS offer to m1")
    [offer] = omni.board.pending("m1")
    omni.intake.accept(offer.task_id, "m1")
    c = await hub.store.by_task(offer.task_id)
    assert c is not None and c.channel == "sms" and c.customer == "13800138000"

    parts = sms_parts(REPLY)
    assert len(parts) == 2 and len(parts[0]) == 67
    trace = tmp_path / "reply.log"
    phone = await sipp("-sf", str(SIPP / "sms_receive.xml"), "-p", str(REPLY_PORT), "-m", str(len(parts)),
                       "-trace_msg", "-message_file", str(trace))  # fmt: skip
    await asyncio.sleep(0.3)
    await hub.agent_says(c, "m1", REPLY)
    assert await asyncio.wait_for(phone.wait(), 25) == 0
    got = trace.read_text(encoding="utf-8")
    assert got.count("MESSAGE sip:13800138000@127.0.0.1:15173") == 2
    assert "From: <sip:10658000@127.0.0.1>" in got
    for part in parts:
        assert part in got

    assert await send_sms(sandbox_settings, "JY", NEXT_PORT) == 0
    for _ in range(100):  # the CCRMessage event follows Asterisk's 202 to SIPp
        msgs = await hub.store.messages(c.id)
        if len(msgs) == 3:
            break
        await asyncio.sleep(0.1)
    assert [(m.direction, m.author, m.body) for m in msgs] == [
        ("in", "customer", "你好，查询本月套餐余量"),
        ("out", "m1", REPLY),
        ("in", "customer", "JY"),
    ]
    assert list(hub.by_task) == [offer.task_id]  # no second task: the agent holding it sees it
