"""A real call on the agent desktop: SIPp calls the Asterisk sandbox, cc-router (the whole
service, with its AMI node) rings the agent's simulated phone, and the page in headless
Chromium shows it ringing, connected, then in wrap-up, where the agent gives a disposition
that lands on the interaction's row, in the 15-minute report and in Asterisk's queue_log."""

from __future__ import annotations

import asyncio
import contextlib
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.async_api import Page, expect
from sqlalchemy import select

from cc_router.config import loads_config
from cc_router.sandbox import SandboxSettings, SandboxStatus
from cc_router.store.reports import read_queue_intervals, write_intervals
from cc_router.store.tables import InteractionRow
from cc_router.testing.live import AmiAdmin, call
from tests.desk_stack import CENTRE, PASSWORD, desk_stack

pytestmark = [pytest.mark.browser, pytest.mark.asterisk, pytest.mark.asyncio]

PHONE = "dsk1001"
"""The simulated phone of agent 1001 (Local/dsk1001@ccr-sim-agent): a name no other test uses."""
NUMBER = "20095"
CALLER = "13800000951"
"""Starts like every e2e caller number (tests/e2e CALLER_PREFIX), so their clean-up knows it."""


def _config(settings: SandboxSettings) -> str:
    body = CENTRE.replace(
        '{id: "1001", name: 张伟,', f'{{id: "1001", name: 张伟, endpoint: "Local/{PHONE}@ccr-sim-agent",'
    ).replace("store: {flush_interval_s: 0.1}\n", "")
    return (
        body
        + f"""numbers:
  "{NUMBER}": {{queue: billing}}
asterisk:
  - name: sandbox
    host: 127.0.0.1
    port: {settings.ami_port}
    username: {settings.ami_user}
    secret: "{settings.ami_secret}"
    ping_interval_s: 1.0
    ping_timeout_s: 1.0
    reconnect_max_s: 2.0
store: {{flush_interval_s: 0.1}}
"""
    )


def _mine(ch: dict[str, str]) -> bool:
    return ch.get("CallerIDNum", "") == CALLER or ch.get("Channel", "").startswith(f"Local/{PHONE}@")


async def test_call_rings_connects_and_wraps_up_on_the_page(
    tmp_path: Path,
    page: Page,
    artifacts: Path,
    sandbox: SandboxStatus,
    sandbox_settings: SandboxSettings,
) -> None:
    config = loads_config(_config(sandbox_settings), env={})
    assert config.agents[0].endpoint == f"Local/{PHONE}@ccr-sim-agent"
    admin = await AmiAdmin(sandbox_settings).connect()
    caller = None
    try:
        await admin.hangup_all(_mine)
        # Rings 3 s (long enough to see), talks 4 s, then the agent hangs up.
        await admin.sim_agent(PHONE, ring=3, talk=4, answer="1")
        async with desk_stack(tmp_path, config=config) as stack:
            node = stack.built.nodes[0]
            for _ in range(150):
                if node.ready:
                    break
                await asyncio.sleep(0.1)
            assert node.ready, "the router did not log in to the sandbox's AMI"

            await page.goto(f"{stack.base}/agent")
            await page.fill("#user", "zhang")
            await page.fill("#password", PASSWORD)
            await page.click("#login-btn")
            await expect(page.locator("#conn")).to_have_attribute("data-online", "true")
            await page.click("#ready-btn")
            await expect(page.locator("#state")).to_have_attribute("data-state", "ready")

            caller = await call(sandbox_settings, NUMBER, 40_000, name="李娜", num=CALLER)
            body = page.locator("body")
            offer = page.locator("#offer")
            await expect(body).to_have_attribute("data-voice", "ringing", timeout=15_000)
            await expect(offer).to_have_attribute("data-channel", "voice")
            await expect(offer.locator('[data-field="caller"]')).to_contain_text(CALLER)
            await expect(offer.locator('[data-field="queue"]')).to_have_text("billing")
            await expect(offer.locator(".ringing")).to_be_visible()
            # No accept button for a call: it is answered on the phone.
            await expect(page.locator("#accept-btn")).to_be_hidden()
            await page.screenshot(path=artifacts / "desktop-voice-ringing.png")
            # The phone really rings in Asterisk.
            assert [c for c in await admin.channels() if c.get("Channel", "").startswith(f"Local/{PHONE}@")]

            await expect(body).to_have_attribute("data-voice", "connected", timeout=10_000)
            await expect(page.locator("#state")).to_have_attribute("data-state", "busy")
            await expect(page.locator('#work .work[data-channel="voice"]')).to_have_attribute(
                "data-stage", "connected"
            )
            await expect(offer).to_be_hidden()
            await page.screenshot(path=artifacts / "desktop-voice-connected.png")

            # The simulated agent hangs up after 4 s: wrap-up, with the queue's codes.
            await expect(body).to_have_attribute("data-voice", "wrap_up", timeout=15_000)
            await expect(page.locator("#state")).to_have_attribute("data-state", "wrap_up")
            await expect(page.locator("#wrapup")).to_be_visible()
            await expect(page.locator("#wrapup-countdown")).to_have_text(re.compile(r"0:[012]\d"))
            await page.select_option("#wrapup-code", "complaint")
            await page.click("#wrapup-save")
            await page.screenshot(path=artifacts / "desktop-voice-wrapup.png")
            iid = page.locator("#wrapup")
            interaction_id = await iid.get_attribute("data-interaction")
            assert interaction_id

            async def stored() -> tuple[str | None, str | None] | None:
                async with stack.engine.connect() as conn:
                    row = (
                        await conn.execute(
                            select(InteractionRow.disposition, InteractionRow.wrapup_code).where(
                                InteractionRow.interaction_id == interaction_id
                            )
                        )
                    ).first()
                return None if row is None else (row[0], row[1])

            for _ in range(100):
                if await stored() == ("agent_hangup", "complaint"):
                    break
                await asyncio.sleep(0.1)
            assert await stored() == ("agent_hangup", "complaint")
            # Counted in the 15-minute report of its queue ...
            since, until = datetime.now(UTC) - timedelta(minutes=20), datetime.now(UTC) + timedelta(minutes=1)
            await write_intervals(stack.engine, since, until)
            async with stack.engine.connect() as conn:
                rows = await read_queue_intervals(conn, since, until)
            assert [r["dispositions"] for r in rows if r["queue"] == "billing"] == [{"complaint": 1}]
            # ... and in Asterisk's own queue_log, as app_queue-style tools read outcomes.
            qlog = Path(sandbox_settings.root) / "var/log/asterisk/queue_log"
            for _ in range(50):
                text = qlog.read_text(errors="replace")
                lines = [x for x in text.splitlines() if f"|{interaction_id}|" in x]
                if any("|CALLSTATUS|" in x for x in lines):
                    break
                await asyncio.sleep(0.1)
            status = [x.split("|") for x in lines if "|CALLSTATUS|" in x]
            assert status and status[0][1:6] == [interaction_id, "billing", "1001", "CALLSTATUS", "complaint"]

            await page.click("#wrapup-ready")
            await expect(page.locator("#state")).to_have_attribute("data-state", "ready")
            await expect(page.locator('#figures [data-field="handled"]')).to_have_text("1")
    finally:
        if caller is not None:
            caller.kill()
        with contextlib.suppress(Exception):
            await admin.hangup_all(_mine)
        await admin.close()
