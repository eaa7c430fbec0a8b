"""The supervisor console in headless Chromium, against the whole service on a real port:
a supervisor pauses an agent and moves a waiting caller, each confirmed on the page, and
the router's state follows; an agent's login gets no console and its token is refused
the same actions."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from playwright.async_api import Page, expect

from cc_router.core import events as ev
from tests.console.stack import ADMIN, console_stack, login
from tests.desk_stack import PASSWORD, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.asyncio]


async def test_supervisor_pauses_an_agent_and_moves_a_caller(
    tmp_path: Path, page: Page, artifacts: Path
) -> None:
    async with console_stack(tmp_path) as stack, httpx.AsyncClient(base_url=stack.base) as client:
        router = stack.service.router
        for aid in ("1001", "1002"):
            assert (await client.post(f"/api/agents/{aid}/login", headers=ADMIN)).status_code == 200
        # Agent 1002 (sales) paused so a caller moved to sales keeps waiting there.
        await client.post("/api/agents/1002/pause", headers=ADMIN, json={"reason": "lunch"})

        await page.goto(f"{stack.base}/console")
        # An agent's login does not open the console.
        await page.fill("#user", "zhang")
        await page.fill("#password", PASSWORD)
        await page.click("#login-btn")
        await expect(page.locator("#login-error")).to_contain_text("may not use the supervisor console")
        await expect(page.locator("body")).to_have_attribute("data-view", "login")

        await page.fill("#user", "boss")
        await page.fill("#password", PASSWORD)
        await page.click("#login-btn")
        await expect(page.locator("#who")).to_have_text("boss (supervisor)")
        row = page.locator('#agents .agent[data-agent="1001"]')
        await expect(row).to_have_attribute("class", "agent ready")

        # Pause 1001 with a reason: nothing happens until it is confirmed.
        await row.click()
        await expect(page.locator("#act")).to_be_visible()
        await expect(page.locator("#act-state")).to_have_attribute("data-state", "ready")
        await page.fill("#act-reason", "coaching")
        await page.click("#act-pause")
        await expect(page.locator("#confirm-text")).to_have_text("Pause 张伟 (1001), reason coaching?")
        await page.click("#confirm-no")
        await expect(page.locator("#confirm")).to_be_hidden()
        assert str(router.agents["1001"].state) == "ready"
        await page.click("#act-pause")
        await page.screenshot(path=artifacts / "console-confirm.png")
        await page.click("#confirm-yes")
        await expect(page.locator("#result")).to_have_attribute("data-ok", "true")
        await wait_until(lambda: str(router.agents["1001"].state) == "paused")
        assert router.agents["1001"].state_reason == "coaching"
        await expect(page.locator("#act-state")).to_have_attribute("data-state", "paused")
        await expect(row).to_have_attribute("class", "agent paused")
        await page.click("#act-close")

        # A caller waits in billing (nobody ready for it); move it to sales from the console.
        stack.service.submit(ev.InteractionArrived("call-7", "billing", caller="13800138000"))
        waiting = page.locator('#waiting tr[data-interaction="call-7"]')
        await expect(waiting).to_contain_text("billing")
        await waiting.click()
        await expect(page.locator("#act-queue-now")).to_have_text("billing")
        await page.select_option("#act-move-queue", "sales")
        await page.click("#act-move")
        await expect(page.locator("#confirm-text")).to_have_text(
            "Move caller 13800138000 from billing to sales?"
        )
        await page.click("#confirm-yes")
        # The panel reads the caller again once the move is answered.
        await expect(page.locator("#act-queue-now")).to_have_text("sales")
        await expect(page.locator("#result")).to_contain_text("Done: Move caller")
        assert router.interactions["call-7"].queue.spec.name == "sales"
        await expect(waiting).to_contain_text("sales")
        await page.click("#act-close")

        # Both are in the audit panel, with before -> after.
        await page.click("#audit-btn")
        await expect(page.locator('#audit-rows tr[data-action="move"]')).to_contain_text(
            'queue: "billing" → "sales"'
        )
        await expect(page.locator('#audit-rows tr[data-action="pause"]').first).to_contain_text(
            'state: "ready" → "paused"'
        )
        await page.screenshot(path=artifacts / "console-audit.png", full_page=True)

        # The agent's own token is refused the same actions, and nothing changes.
        zhang = await login(client, "zhang")
        r = await client.post("/api/agents/1002/unpause", headers=zhang, json={})
        assert r.status_code == 403
        r = await client.post("/api/interactions/call-7/move", headers=zhang, json={"queue": "billing"})
        assert r.status_code == 403
        assert router.interactions["call-7"].queue.spec.name == "sales"
        assert router.agents["1002"].state_reason == "lunch"


async def test_a_refused_action_is_shown_as_refused(tmp_path: Path, page: Page) -> None:
    """A supervisor of sales only: acting on a billing agent is refused by the server, and
    the page says so."""
    async with console_stack(tmp_path) as stack, httpx.AsyncClient(base_url=stack.base) as client:
        await client.post("/api/agents/1001/login", headers=ADMIN)
        await page.goto(f"{stack.base}/console")
        await page.fill("#user", "sales_lead")
        await page.fill("#password", PASSWORD)
        await page.click("#login-btn")
        await page.locator('#agents .agent[data-agent="1001"]').click()
        await page.click("#act-pause")
        await page.click("#confirm-yes")
        await expect(page.locator("#result")).to_have_attribute("data-ok", "false")
        await expect(page.locator("#result")).to_contain_text("403")
        assert str(stack.service.router.agents["1001"].state) == "ready"
