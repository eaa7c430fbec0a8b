"""A web chat answered from the agent desktop in headless Chromium: the customer's text is
shown in the conversation panel as text (never run), the agent's reply typed there reaches
the customer, and the customer's answer appears live."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from playwright.async_api import Page, expect
from sqlalchemy import select

from cc_router.conversations.tables import messages
from tests.desk_stack import PASSWORD, desk_stack

pytestmark = [pytest.mark.browser, pytest.mark.asyncio]

EVIL = '<img src=x onerror="window.pwned=1"><b>你好</b>，我的订单还没到'
CHAT = """
conversations:
  chat:
    topics: [{name: help, label: 帮助, queue: chat_zh}]
"""


async def test_the_agent_answers_a_web_chat_from_the_desktop(
    tmp_path: Path, page: Page, artifacts: Path
) -> None:
    async with desk_stack(tmp_path, CHAT) as stack, httpx.AsyncClient(base_url=stack.base) as customer:
        await page.goto(f"{stack.base}/agent")
        await page.fill("#user", "zhang")
        await page.fill("#password", PASSWORD)
        await page.click("#login-btn")
        await page.click("#ready-btn")
        await expect(page.locator("#state")).to_have_attribute("data-state", "ready")

        r = await customer.post("/chat/api/start", json={"topic": "help", "name": "王先生", "text": EVIL})
        assert r.status_code == 201, r.text
        me = {"X-Chat-Token": r.json()["token"]}
        conv_id = r.json()["conversation_id"]
        await page.click("#accept-btn")
        panel = page.locator("#conversation")
        await expect(panel).to_be_visible()
        await expect(panel).to_have_attribute("data-conversation", conv_id)
        await expect(page.locator("#conv-customer")).to_have_text("王先生")
        first = page.locator("#conv-messages li").first
        await expect(first.locator(".body")).to_have_text(EVIL)
        assert await panel.locator("#conv-messages img, #conv-messages .body b").count() == 0

        # The agent answers in the panel; the customer's page has it.
        await page.fill("#conv-text", "您好，我是客服张伟")
        await page.click("#conv-send")
        await expect(page.locator('#conv-messages li[data-direction="out"] .body')).to_have_text(
            "您好，我是客服张伟"
        )
        await expect(page.locator("#conv-text")).to_have_value("")
        seen = (await customer.get("/chat/api/conversation", headers=me)).json()
        assert [m["body"] for m in seen["messages"]] == [EVIL, "您好，我是客服张伟"]
        assert seen["messages"][1]["author"] == "1001"

        # The customer answers: it appears live, as text again.
        r = await customer.post(
            "/chat/api/messages", json={"text": "<script>window.pwned=2</script>谢谢"}, headers=me
        )
        assert r.status_code == 201
        await expect(page.locator("#conv-messages li")).to_have_count(3)
        await expect(page.locator("#conv-messages li").nth(2).locator(".body")).to_have_text(
            "<script>window.pwned=2</script>谢谢"
        )
        assert await page.evaluate("window.pwned") is None
        await page.screenshot(path=artifacts / "desktop-conversation.png")

        # Completed: the panel goes; the transcript is in SQL.
        item = page.locator(".work").first
        await item.locator('[data-field="code"]').select_option("resolved")
        await item.locator('[data-field="complete"]').click()
        await expect(panel).to_be_hidden()
        async with stack.engine.connect() as conn:
            rows = await conn.execute(
                select(messages.c.author, messages.c.body)
                .where(messages.c.conversation_id == conv_id)
                .order_by(messages.c.id)
            )
            got = [tuple(r) for r in rows]
        assert got == [
            ("customer", EVIL),
            ("1001", "您好，我是客服张伟"),
            ("customer", "<script>window.pwned=2</script>谢谢"),
        ]
