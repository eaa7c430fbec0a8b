"""The waiting caller on the real Asterisk: announcements while on hold, and a callback
asked for with DTMF that keeps its place, rings the agent first, then dials the customer
(a SIPp UAS) and bridges them, with a failed attempt retried.

What the caller hears is proven from Asterisk itself, not from the router: the
announcer channel entering the caller's own holding bridge (BridgeEnter), the caller's
music stopping and starting again around it (MusicOnHoldStop/Start), and the Playback /
SayNumber the announcer runs (CoreShowChannels).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from cc_router.core import commands as cmd
from cc_router.core.vocabulary import CallbackSource, Outcome
from cc_router.sandbox import SandboxSettings
from cc_router.service import supervise
from cc_router.store import migrate
from cc_router.testing.live import (
    AmiAdmin,
    LiveService,
    call,
    free_udp_port,
    kill_all,
    sandbox_config,
    wait_until,
)
from cc_router.waiting import Waiting
from cc_router.waiting import attach as attach_waiting
from tests.asterisk.conftest import AmiTap, ami_tap

pytestmark = [pytest.mark.asterisk, pytest.mark.asyncio]
__all__ = ["ami_tap"]  # the fixture, from the Asterisk tests

SIPP_DIR = Path(__file__).resolve().parents[1] / "sipp"


CUSTOMER_PORT = free_udp_port()

CENTRE = f"""
skills: [zh]
agents:
  - {{id: ea7, skills: {{zh: 5}}}}
  - {{id: ea8, skills: {{zh: 5}}}}
queues:
  - name: q_wait
    requirement: zh
    ring_timeout_s: 5
    wrapup_s: 0
    announce: {{position: true, wait: true, every_s: 10, quiet_within_s: 0}}
    callback: {{attempts: 3, gap_s: 2, window: "00:00-00:00", offer_after_s: 1, ring_s: 4}}
numbers:
  "20090": {{queue: q_wait}}
callbacks:
  dial: "PJSIP/trunk/sip:{{number}}@127.0.0.1:{CUSTOMER_PORT}"
centre: {{timezone: Asia/Shanghai}}
"""


class Stack:
    def __init__(self, live: LiveService, waiting: Waiting) -> None:
        self.live, self.waiting = live, waiting


@pytest_asyncio.fixture
async def stack(admin: AmiAdmin, sandbox_settings: SandboxSettings, tmp_path: Path) -> AsyncIterator[Stack]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'waiting.db'}"
    live = LiveService(sandbox_config(CENTRE, sandbox_settings, store_url=url))
    waiting = attach_waiting(live.service, live.nodes, live.writer.engine)
    await migrate(url)
    for step in live.service.starting:
        await step()
    await live.start()
    assert waiting.recorder is not None
    tasks = [asyncio.create_task(supervise(c.name, c.run)) for c in (waiting.recorder, waiting.announcer)]
    yield Stack(live, waiting)
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await live.stop()


async def channels(tap: AmiTap) -> list[dict[str, str]]:
    aid = await tap.send("CoreShowChannels")
    await tap.wait_for(lambda m: m.get("ActionID") == aid and m.get("Event") == "CoreShowChannelsComplete")
    return [m for m in tap.messages if m.get("ActionID") == aid and m.get("Event") == "CoreShowChannel"]


async def caller_uid(tap: AmiTap, num: str) -> str:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for ch in await channels(tap):
            if ch.get("CallerIDNum") == num and ch.get("Application") == "BridgeWait":
                return ch["Uniqueid"]
        await asyncio.sleep(0.1)
    raise TimeoutError(f"caller {num} never reached its hold")


async def test_a_caller_on_hold_hears_its_position_and_wait_over_paused_music(
    stack: Stack, admin: AmiAdmin, ami_tap: AmiTap, sandbox_settings: SandboxSettings
) -> None:
    live = stack.live
    await admin.sim_agent("ea7", ring=0.2, talk=0)  # takes the first caller and keeps it
    live.login("ea7")
    callers = [await call(sandbox_settings, "20090", 30000, num="13800000901")]
    await wait_until(lambda: bool(live.of(cmd.InteractionConnected)), 10, "first caller connected")
    callers.append(await call(sandbox_settings, "20090", 30000, num="13800000902"))
    await wait_until(lambda: live.iid_of_caller("13800000902") is not None, 10, "second caller waits")
    callers.append(await call(sandbox_settings, "20090", 30000, num="13800000903"))
    try:
        uid = await caller_uid(ami_tap, "13800000903")
        bridge = f"ccr-{uid}"
        # What the announcer runs, as Asterisk reports it, while it speaks.
        ran: list[tuple[str, str]] = []
        announcer_bridges: set[str] = set()
        caller_bridge = ""
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline:
            for ch in await channels(ami_tap):
                name = ch.get("Channel", "")
                if ch.get("Uniqueid") == uid:
                    caller_bridge = ch.get("BridgeId", "")
                if name.startswith(f"Local/{uid}@ccr-announce"):
                    if name.endswith(";1"):
                        ran.append((ch.get("Application", ""), ch.get("ApplicationData", "")))
                    elif ch.get("BridgeId"):
                        announcer_bridges.add(ch["BridgeId"])
            if ("SayNumber", "2") in ran and any(a == "Playback" and "queue-holdtime" in d for a, d in ran):
                break
            await asyncio.sleep(0.05)
        # Two callers wait (the first talks to ea7), this one second; its wait can be
        # estimated because ea7 is working.
        assert ("Playback", "queue-thereare") in ran, ran
        assert ("SayNumber", "2") in ran, ran
        assert any(a == "Playback" and d == "queue-holdtime" for a, d in ran), ran
        assert caller_bridge and announcer_bridges == {caller_bridge}
        # the announcer joined the caller's own holding bridge; its music paused meanwhile
        enter = await ami_tap.wait_for(
            lambda m: (
                m.get("Event") == "BridgeEnter"
                and m.get("BridgeName") == bridge
                and m.get("Channel", "").startswith(f"Local/{uid}@ccr-announce")
            )
        )
        i = ami_tap.messages.index(enter)
        stop = await ami_tap.wait_for(
            lambda m: (
                m.get("Event") == "MusicOnHoldStop"
                and m.get("Uniqueid") == uid
                and ami_tap.messages.index(m) > i
            )
        )
        j = ami_tap.messages.index(stop)
        await ami_tap.wait_for(
            lambda m: (
                m.get("Event") == "MusicOnHoldStart"
                and m.get("Uniqueid") == uid
                and ami_tap.messages.index(m) > j
            ),
            timeout=15,
        )
        # the first waiting caller is next: told so, not a number
        uid2 = await caller_uid(ami_tap, "13800000902")
        await ami_tap.wait_for(
            lambda m: m.get("Event") == "BridgeEnter" and m.get("BridgeName") == f"ccr-{uid2}"
        )
    finally:
        kill_all(callers)


async def test_dtmf_callback_keeps_its_place_rings_the_agent_then_the_customer_and_retries(
    stack: Stack, admin: AmiAdmin, ami_tap: AmiTap, sandbox_settings: SandboxSettings
) -> None:
    live = stack.live
    first = await call(sandbox_settings, "20090", 40000, num="13800000911")
    await wait_until(lambda: live.iid_of_caller("13800000911") is not None, 10, "first arrival")
    pressing = await asyncio.create_subprocess_exec(
        "sipp", "-sf", str(SIPP_DIR / "caller_dtmf.xml"), "-s", "20090",
        "-i", "127.0.0.1", "-p", str(free_udp_port()), "-mp", str(free_udp_port()), "-m", "1",
        "-nostdin", "-d", "2500", "-recv_timeout", "20000",
        "-key", "cname", "王芳", "-key", "cnum", "13800000912", sandbox_settings.sip,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL, cwd="/tmp",
    )  # fmt: skip
    customer: asyncio.subprocess.Process | None = None
    later = None
    try:
        await wait_until(lambda: live.iid_of_caller("13800000912") is not None, 10, "second arrival")
        cb = live.iid_of_caller("13800000912") or ""
        await wait_until(lambda: bool(live.of(cmd.CallbackAccepted)), 10, "callback from DTMF 1")
        [accepted] = live.of(cmd.CallbackAccepted)
        assert accepted.interaction_id == cb and accepted.source is CallbackSource.REQUESTED
        # the DTMF came from Asterisk, on the caller's channel
        await ami_tap.wait_for(
            lambda m: (
                m.get("Event") == "DTMFEnd"
                and m.get("Digit") == "1"
                and m.get("CallerIDNum") == "13800000912"
            )
        )
        # thanked once stored, then Asterisk hangs up on the caller (SIPp sees the BYE)
        assert await asyncio.wait_for(pressing.wait(), 15) == 0
        later = await call(sandbox_settings, "20090", 40000, num="13800000913")
        await wait_until(lambda: live.iid_of_caller("13800000913") is not None, 10, "later arrival")
        router = live.service.router
        iid_first, iid_later = live.iid_of_caller("13800000911"), live.iid_of_caller("13800000913")
        assert [i.id for i in router.waiting_in("q_wait")] == [iid_first, cb, iid_later]

        # ea7 serves the first caller; then the callback comes before the later caller.
        await admin.sim_agent("ea7", ring=0.5, talk=4)
        live.login("ea7")
        await wait_until(lambda: any(o.interaction_id == cb for o in live.offers()), 20, "callback offered")
        assert [o.interaction_id for o in live.offers()][:2] == [iid_first, cb]
        # Nobody answers at the customer's number yet: the attempt fails and is retried.
        # (The customer's UAS takes several calls: the unanswered INVITE of the failed
        # attempt is still being retransmitted by Asterisk when it starts.)
        await wait_until(lambda: len(live.of(cmd.CallbackAttempted)) >= 1, 20, "first attempt over")
        first_try = live.of(cmd.CallbackAttempted)[0]
        assert str(first_try.result) != "answered" and first_try.next_at is not None
        customer = await asyncio.create_subprocess_exec(
            "sipp", "-sf", str(SIPP_DIR / "agent.xml"), "-i", "127.0.0.1", "-p", str(CUSTOMER_PORT),
            "-mp", str(free_udp_port()), "-d", "500", "-m", "10", "-nostdin", sandbox_settings.sip,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL, cwd="/tmp",
        )  # fmt: skip
        await wait_until(
            lambda: any(str(a.result) == "answered" for a in live.of(cmd.CallbackAttempted)), 30, "answered"
        )
        # Agent first, then the customer: on the answered attempt, the agent leg's
        # CCRCallbackAgent comes before its Dial to the customer; both end in one bridge.
        answered = await ami_tap.wait_for(
            lambda m: m.get("UserEvent") == "CCRCallbackAnswered" and m.get("IID") == cb
        )
        customer_uid = answered["Uniqueid"]
        msgs = ami_tap.messages
        [dial] = [m for m in msgs if m.get("Event") == "DialBegin" and m.get("DestUniqueid") == customer_uid]
        agent_uid = dial["Uniqueid"]
        assert dial["DestChannel"].startswith("PJSIP/trunk-")
        [agent_up] = [
            m for m in msgs if m.get("UserEvent") == "CCRCallbackAgent" and m.get("Uniqueid") == agent_uid
        ]
        assert msgs.index(agent_up) < msgs.index(dial)
        assert agent_up["IID"] == cb and agent_up["Agent"] == "ea7"

        def enters() -> list[dict[str, str]]:
            return [
                m
                for m in ami_tap.messages
                if m.get("Event") == "BridgeEnter" and m.get("Uniqueid") in (customer_uid, agent_uid)
            ]

        await ami_tap.wait_for(lambda m: len(enters()) >= 2)
        assert len({m["BridgeUniqueid"] for m in enters()}) == 1, enters()
        # the agent talks 4 s and hangs up: an ordinary answered call
        await wait_until(lambda: live.finished(cb) is not None, 15, "callback call ended")
        finished = live.finished(cb)
        assert finished is not None and finished.outcome is Outcome.ANSWERED
        # each attempt and its result in SQL and in Asterisk's queue_log
        recorder = stack.waiting.recorder
        assert recorder is not None
        await wait_until(lambda: recorder.written >= 5, 10, "attempts stored")
        engine = create_async_engine(live.config.store.url)
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    sa.text("select attempt, agent_id, result from callback_attempts order by attempt")
                )
            ).all()
            status = (await conn.execute(sa.text("select status, number from callbacks"))).all()
        await engine.dispose()
        assert [(a, g) for a, g, _ in rows] == [(1, "ea7"), (2, "ea7")]
        assert rows[0][2] != "answered" and rows[1][2] == "answered"
        assert status == [("connected", "13800000912")]
        qlog = (Path(sandbox_settings.root) / "var/log/asterisk/queue_log").read_text(errors="replace")
        attempts = [
            line.split("|") for line in qlog.splitlines() if f"|{cb}|" in line and "|CALLBACKATTEMPT|" in line
        ]
        assert [a[5:7] for a in attempts] == [["1", str(rows[0][2])], ["2", "answered"]]
    finally:
        with contextlib.suppress(ProcessLookupError):
            pressing.kill()
        if customer is not None:
            with contextlib.suppress(ProcessLookupError):
                customer.kill()
        kill_all([first] + ([later] if later is not None else []))
