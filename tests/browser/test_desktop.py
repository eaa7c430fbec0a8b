"""The agent desktop in headless Chromium, against the whole service on a real port."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Page, expect
from sqlalchemy import select

from cc_router.core import events as ev
from cc_router.store.tables import InteractionRow
from tests.desk_stack import PASSWORD, TOKEN, desk_stack

pytestmark = [pytest.mark.browser, pytest.mark.asyncio]

EVIL = '<img src=x onerror="window.pwned=1"><b>你好</b>，我的订单还没到'


async def test_agent_day_on_the_desktop(tmp_path: Path, page: Page, artifacts: Path) -> None:
    async with desk_stack(tmp_path) as stack:
        router = stack.service.router
        await page.goto(f"{stack.base}/agent")
        await expect(page.locator("#login-btn")).to_have_text("登录")

        # A wrong password fails and says so.
        await page.fill("#user", "zhang")
        await page.fill("#password", "not-my-password")
        await page.click("#login-btn")
        await expect(page.locator("#login-error")).to_have_text("用户名或密码错误")
        await page.screenshot(path=artifacts / "desktop-login.png")

        await page.fill("#password", PASSWORD)
        await page.click("#login-btn")
        await expect(page.locator("#who")).to_have_text("张伟 (1001)")
        await expect(page.locator("#conn")).to_have_attribute("data-online", "true")
        await expect(page.locator("#state")).to_have_attribute("data-state", "logged_out")

        await page.click("#ready-btn")
        await expect(page.locator("#state")).to_have_attribute("data-state", "ready")
        assert str(router.agents["1001"].state) == "ready"

        # The page's own token cannot pause another agent, by either route.
        stack.service.submit(ev.AgentLoggedIn("1002"))
        statuses = await page.evaluate(
            """async () => {
              const h = {Authorization: "Bearer " + sessionStorage.getItem("ccr.token"),
                         "Content-Type": "application/json"};
              const a = await fetch("/api/desktop/pause?agent=1002",
                                    {method: "POST", headers: h, body: '{"code": "lunch"}'});
              const b = await fetch("/api/agents/1002/pause",
                                    {method: "POST", headers: h, body: '{"reason": "lunch"}'});
              return [a.status, b.status];
            }"""
        )
        assert statuses == [403, 403]
        assert str(router.agents["1002"].state) == "ready"
        stack.service.submit(ev.AgentLoggedOut("1002"))  # the chat below is for 1001

        # Pause with a reason from the list (the first is chosen to begin with), then back.
        await expect(page.locator("#pause-reason")).to_have_value("lunch")
        await page.select_option("#pause-reason", "lunch")
        await page.click("#pause-btn")
        await expect(page.locator("#state")).to_have_attribute("data-state", "paused")
        await expect(page.locator("#pause-info")).to_contain_text("午餐 lunch")
        assert router.agents["1001"].state_reason == "lunch"
        await page.click("#ready-btn")
        await expect(page.locator("#state")).to_have_attribute("data-state", "ready")

        # A chat arrives: offered with the customer's details, shown as text.
        async with httpx.AsyncClient(base_url=stack.base) as client:
            r = await client.post(
                "/api/tasks",
                headers={"Authorization": f"Bearer {TOKEN}"},
                json={
                    "task_id": "chat-1",
                    "channel": "chat",
                    "queue": "chat_zh",
                    "customer": "王先生",
                    "body": EVIL,
                },
            )
            assert r.status_code == 201, r.text
        offer = page.locator("#offer")
        await expect(offer).to_be_visible()
        await expect(offer).to_have_attribute("data-channel", "chat")
        await expect(offer.locator('[data-field="caller"]')).to_have_text("王先生")
        await expect(offer.locator('[data-field="queue"]')).to_have_text("chat_zh")
        await expect(offer.locator('[data-field="content"]')).to_contain_text("<b>你好</b>")
        await expect(offer.locator('[data-field="reason"]')).not_to_be_empty()
        assert await page.evaluate("window.pwned") is None
        assert await offer.locator("img, b").count() == 0
        await page.screenshot(path=artifacts / "desktop-offer.png")

        await page.click("#accept-btn")
        item = page.locator('#work .work[data-interaction="chat-1"]')
        await expect(item).to_have_attribute("data-stage", "connected")
        await expect(page.locator('#slots .slot[data-channel="chat"]')).to_contain_text("1/3")
        await expect(offer).to_be_hidden()

        # Completing needs a disposition (required for chat_zh); with one it goes to wrap-up.
        await item.locator('[data-field="complete"]').click()
        await expect(page.locator("#action-error")).to_contain_text("needs a disposition")
        await item.locator('[data-field="code"]').select_option("resolved")
        await item.locator('[data-field="complete"]').click()
        wrap = page.locator("#wrapup")
        await expect(wrap).to_be_visible()
        await expect(page.locator("#wrapup-countdown")).to_have_text(re.compile(r"0:[23]\d"))
        await expect(page.locator("#state")).to_have_attribute("data-state", "wrap_up")
        await page.screenshot(path=artifacts / "desktop-wrapup.png")

        await page.click("#wrapup-ready")
        await expect(page.locator("#state")).to_have_attribute("data-state", "ready")
        await expect(page.locator('#figures [data-field="handled"]')).to_have_text("1")

        # English too.
        await page.click("#lang")
        await expect(page.locator("#ready-btn")).to_have_text("Ready")
        await expect(page.locator("#state")).to_have_text("Ready")
        await page.screenshot(path=artifacts / "desktop-english.png")

        # The code is on the interaction's row.
        async def stored() -> list[tuple[str, str | None]]:
            async with stack.engine.connect() as conn:
                rows = await conn.execute(
                    select(InteractionRow.disposition, InteractionRow.wrapup_code).where(
                        InteractionRow.interaction_id == "chat-1"
                    )
                )
                return [tuple(r) for r in rows]  # type: ignore[misc]

        for _ in range(100):
            if (await stored()) == [("resolved", "resolved")]:
                break
            await asyncio.sleep(0.1)
        assert await stored() == [("resolved", "resolved")]


async def test_desktop_shows_offline_and_reconnects(tmp_path: Path, page: Page, artifacts: Path) -> None:
    async with desk_stack(tmp_path) as stack:
        await page.goto(f"{stack.base}/agent")
        await page.fill("#user", "wang")
        await page.fill("#password", PASSWORD)
        await page.click("#login-btn")
        await expect(page.locator("#conn")).to_have_attribute("data-online", "true")
        await page.context.set_offline(True)
        await page.evaluate("window.dispatchEvent(new Event('offline'))")
        await expect(page.locator("#conn")).to_have_attribute("data-online", "false")
        await expect(page.locator("#conn")).to_contain_text("离线")
        await page.screenshot(path=artifacts / "desktop-offline.png")
        await page.context.set_offline(False)
        # The stream comes back by itself and brings the latest picture.
        stack.service.submit(ev.AgentLoggedIn("1002"))
        await expect(page.locator("#conn")).to_have_attribute("data-online", "true", timeout=15_000)
        await expect(page.locator("#state")).to_have_attribute("data-state", "ready", timeout=15_000)
