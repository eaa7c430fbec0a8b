"""The chat widget in headless chromium: a customer opens it, waits and sees its place, an
agent accepts over the API, they write both ways live, a reload keeps the conversation,
nothing the customer typed runs as script, and the transcript is in SQL."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from cc_router.conversations.tables import messages

from .browser import ARTIFACTS, chromium
from .conftest import AUTH, CHAT, centre_config, running

pytestmark = [pytest.mark.browser, pytest.mark.asyncio]
XSS = '<img src=x onerror="window.pwned=1">'


async def test_customer_and_agent_chat_in_the_browser(sqlite_engine: AsyncEngine) -> None:
    config = centre_config(CHAT.replace("leave_grace_s: 0.3", "leave_grace_s: 5"))
    async with running(config, sqlite_engine) as run, chromium() as browser:
        http = run.http
        run.tasks.append(asyncio.create_task(http.run()))  # type: ignore[union-attr]
        await asyncio.wait_for(http.started.wait(), 10)  # type: ignore[union-attr]
        base = f"http://127.0.0.1:{http.bound_port}"  # type: ignore[union-attr]
        # A host page on another origin embeds the widget with the one script tag.
        page = await browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        await page.goto(f"{base}/chat?topic=billing")
        await page.fill("#name", "王芳")
        await page.fill("#first", "我的账单有问题")
        await page.click("#start button[type=submit]")
        await page.wait_for_selector("body[data-status=waiting]", state="attached", timeout=10_000)
        assert "number 1 in the queue" in await page.text_content("#status") or ""

        conv = next(iter(run.conv.hub.by_task.items()))
        task_id, conv_id = conv
        run.login("a1")
        await page.wait_for_selector("body[data-status=offered]", state="attached", timeout=10_000)
        async with httpx.AsyncClient(base_url=base, headers=AUTH) as api:
            r = await api.post(f"/api/tasks/{task_id}/accept", json={"agent_id": "a1"})
            assert r.status_code == 200
            await page.wait_for_selector("body[data-status=connected]", state="attached", timeout=10_000)

            r = await api.post(f"/api/conversations/{conv_id}/typing", json={"agent_id": "a1"})
            assert r.status_code == 200
            await page.wait_for_selector("#typing >> text=Agent a1 is typing", timeout=5_000)

            t0 = time.monotonic()
            r = await api.post(
                f"/api/conversations/{conv_id}/messages", json={"agent_id": "a1", "text": "您好，我是客服"}
            )
            assert r.status_code == 201
            await page.wait_for_selector("li[data-author='a1'] >> text=您好，我是客服", timeout=5_000)
            delivery_s = time.monotonic() - t0

            await page.fill("#text", XSS)
            await page.press("#text", "Enter")
            await page.wait_for_selector("li[data-author='customer'] >> nth=1", timeout=5_000)
            got = (await api.get(f"/api/conversations/{conv_id}")).json()
            assert [m["body"] for m in got["messages"]] == ["我的账单有问题", "您好，我是客服", XSS]

            await page.reload()
            await page.wait_for_selector("body[data-status=connected]", state="attached", timeout=10_000)
            assert await page.locator("#messages li").count() == 3
            assert not await page.locator("#start").is_visible()
            assert await page.evaluate("window.pwned") is None
            assert await page.locator("#messages img").count() == 0
            assert task_id in run.service.router.interactions  # the reload was not an abandon

            r = await api.post(
                f"/api/conversations/{conv_id}/messages", json={"agent_id": "a1", "text": "还有别的问题吗？"}
            )
            await page.wait_for_selector("text=还有别的问题吗？", timeout=5_000)
            ARTIFACTS.mkdir(exist_ok=True)
            await page.screenshot(path=str(ARTIFACTS / "chat-widget.png"), full_page=True)

            r = await api.post(
                f"/api/tasks/{task_id}/complete", json={"agent_id": "a1", "disposition": "solved"}
            )
            assert r.status_code == 200
            await page.wait_for_selector("body[data-status=ended]", state="attached", timeout=10_000)

        async with sqlite_engine.connect() as c:
            m = messages.c
            rows = (
                await c.execute(select(m.author, m.body).where(m.conversation_id == conv_id).order_by(m.id))
            ).all()
        assert [tuple(r) for r in rows] == [
            ("customer", "我的账单有问题"),
            ("a1", "您好，我是客服"),
            ("customer", XSS),
            ("a1", "还有别的问题吗？"),
        ]
        assert not errors, errors
        assert delivery_s < 3.0


async def test_the_embed_script_frames_the_widget(sqlite_engine: AsyncEngine) -> None:
    # The customer's web site: another origin, served from loopback like the router.
    host: list[str] = []
    shop = await asyncio.start_server(lambda r, w: _serve(host[0], r, w), "127.0.0.1", 0)
    origin = f"http://localhost:{shop.sockets[0].getsockname()[1]}"
    config = centre_config(CHAT + f"    allowed_origins: ['{origin}']\n")
    try:
        async with running(config, sqlite_engine) as run, chromium() as browser:
            http = run.http
            run.tasks.append(asyncio.create_task(http.run()))  # type: ignore[union-attr]
            await asyncio.wait_for(http.started.wait(), 10)  # type: ignore[union-attr]
            base = f"http://127.0.0.1:{http.bound_port}"  # type: ignore[union-attr]
            host.append(
                f'<!doctype html><html><body><h1>Shop</h1><script src="{base}/chat/widget.js"'
                ' data-topic="billing"></script></body></html>'
            )
            page = await browser.new_page()
            await page.goto(f"{origin}/")
            await page.click("text=Chat with us")
            frame = page.frame_locator("iframe")
            await frame.locator("#topic option").first.wait_for(state="attached", timeout=10_000)
            assert await frame.locator("#topic option").first.text_content() == "账单 Billing"
            await frame.locator("#first").fill("网站上的问题")
            await frame.locator("#start button[type=submit]").click()
            await frame.locator("body[data-status=waiting]").wait_for(state="attached", timeout=10_000)
            # The host page reloads: its localStorage gives the frame the same conversation.
            await page.reload()
            await page.click("text=Chat with us")
            await frame.locator("body[data-status=waiting]").wait_for(state="attached", timeout=10_000)
            await frame.locator("li[data-author=customer]").wait_for(timeout=5_000)
            assert await frame.locator("#messages li").count() == 1
            assert len(run.conv.hub.by_task) == 1
            ARTIFACTS.mkdir(exist_ok=True)
            await page.screenshot(path=str(ARTIFACTS / "chat-widget-embedded.png"))
    finally:
        shop.close()


async def _serve(page: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")
    body = page.encode()
    head = f"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {len(body)}\r\n"
    writer.write(head.encode() + b"Connection: close\r\n\r\n" + body)
    await writer.drain()
    writer.close()
