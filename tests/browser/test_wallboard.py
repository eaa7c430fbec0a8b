"""The wallboard in Debian's headless chromium: figures follow events within a second."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from playwright.async_api import Page

from cc_router.core import commands as cmd
from cc_router.core import events as ev
from tests.http.centre import CENTRE_YAML, load, make_service, running

BLENDED = CENTRE_YAML.replace(
    "agents:\n",
    "profiles:\n  blended: {capacity: {voice: 1, chat: 3},"
    " blocks: {voice: [chat, email, sms, fax], chat: []}}\n"
    'agents:\n  - {id: "2001", name: 刘洋, profile: blended, skills: {lang_zh: 3}}\n',
).replace("queues:\n", "queues:\n  - {name: chat_zh, channel: chat, requirement: lang_zh >= 3}\n")
"""The test centre plus a blended agent (a call and three chats) and a chat queue."""

pytestmark = [pytest.mark.browser, pytest.mark.asyncio]


async def wait_for(page: Page, expression: str, timeout: float = 5.0) -> None:
    await page.wait_for_function(expression, timeout=timeout * 1000)


def _waiting(queue: str) -> str:
    return f'document.querySelector(\'[data-queue="{queue}"] [data-field="waiting"]\')?.textContent'


def _queue_field(queue: str, field: str) -> str:
    return f'document.querySelector(\'[data-queue="{queue}"] [data-field="{field}"]\')?.textContent'


def _agent_state(agent: str) -> str:
    return f'document.querySelector(\'[data-agent="{agent}"] [data-field="state"]\')?.dataset.state'


def _channel(channel: str, field: str) -> str:
    return f'document.querySelector(\'[data-channel="{channel}"] [data-field="{field}"]\')?.textContent'


SHOWN_AGENTS = "[...document.querySelectorAll('#agents .agent')].map(e => e.dataset.agent).join(',')"


def _set_filter(element: str, value: str) -> str:
    return (
        f"(() => {{ const e = document.getElementById('{element}'); e.value = {value!r};"
        " e.dispatchEvent(new Event('change')); return true; })()"
    )


async def test_wallboard_follows_events(tmp_path: Path, page: Page, artifacts: Path) -> None:
    path = tmp_path / "centre.yaml"
    path.write_text(BLENDED, encoding="utf-8")
    service = make_service(load(path), clock=time.time)  # type: ignore[arg-type]
    for aid in ("1001", "1002", "1003", "2001"):
        service.submit(ev.AgentLoggedIn(aid))
    service.submit(ev.AgentPaused("1003", "培训 training"))
    service.submit(ev.AgentPaused("1001", "lunch"))

    async with running(service) as (base, _):
        await page.goto(f"{base}/")
        await wait_for(page, "document.body.dataset.version !== undefined")
        for chat in ("m1", "m2"):  # 2001 takes two chats
            out = service.submit(ev.InteractionArrived(chat, "chat_zh", caller="wx:openid-7"))
            offer = next(c for c in out if isinstance(c, cmd.Offer))
            service.submit(ev.OfferAccepted(offer.interaction_id, offer.agent_id))
        assert await page.evaluate(_waiting("billing")) == "0"
        assert "张伟" in await page.evaluate("document.getElementById('agents').textContent")

        service.submit(ev.InteractionArrived("c1", "billing", caller="13800138000"))
        service.submit(ev.InteractionArrived("c2", "billing", caller="13900139000"))
        await wait_for(page, f"{_waiting('billing')} === '2'", timeout=1.5)
        # Both billing agents are paused: no expected wait can be given.
        assert await page.evaluate(_queue_field("billing", "ewt")) == "–"

        # 1001 comes back from lunch: offered c1, answers; billing drops to one waiting.
        out = service.submit(ev.AgentUnpaused("1001"))
        offer = next(c for c in out if isinstance(c, cmd.Offer))
        assert offer.agent_id == "1001"
        await wait_for(page, f"{_agent_state('1001')} === 'reserved'", timeout=1.5)
        service.submit(ev.OfferAccepted(offer.interaction_id, "1001"))
        await wait_for(page, f"{_waiting('billing')} === '1'", timeout=1.5)
        # 1001 now talks, c2 waits: a new caller would have c2 and then itself to wait for,
        # one (default) talk time each.
        await wait_for(page, f"{_queue_field('billing', 'ewt')} === '6:00'", timeout=1.5)
        await wait_for(page, f"{_agent_state('1001')} === 'busy'", timeout=1.5)
        service.submit(ev.InteractionArrived("c3", "sales", caller="13700137000", priority=1))
        await wait_for(page, f"{_agent_state('1002')} === 'reserved'", timeout=1.5)

        tiles = await page.evaluate("document.querySelectorAll('.tile').length")
        assert tiles == 3

        # Channel strip: all five channels; slots in use over capacity of logged-in agents.
        chans = await page.evaluate(
            "[...document.querySelectorAll('.chan')].map(e => e.dataset.channel).join()"
        )
        assert chans == "voice,chat,email,sms,fax"
        await wait_for(page, f"{_channel('chat', 'slots')} === '2/3 slots'", timeout=1.5)
        # 1001 on a call (1 of 4 voice slots; 1002's offer holds none until answered).
        await wait_for(page, f"{_channel('voice', 'slots')} === '1/4 slots'", timeout=1.5)
        assert await page.evaluate(_channel("voice", "waiting")) == "1"
        assert "2 offered2 answered0 abandoned" in await page.evaluate(_channel("chat", "today"))
        load_2001 = 'document.querySelector(\'[data-agent="2001"] [data-field="load"]\').textContent'
        assert await page.evaluate(load_2001) == "voice 0/1 · chat 2/3"
        assert await page.evaluate(_agent_state("2001")) == "busy"
        # Not ready first, longest in that state first.
        assert (await page.evaluate(SHOWN_AGENTS)).startswith("1003,")
        # Time in state ticks client-side.
        await wait_for(
            page,
            "[...document.querySelectorAll('.agent [data-field=time]')].some(e => e.textContent === '0:01')",
            timeout=3,
        )
        await page.screenshot(path=artifacts / "wallboard.png")

        # Filters choose the page server-side: paused only, then a search, then all again.
        await page.evaluate(_set_filter("f-state", "paused"))
        await wait_for(page, f"{SHOWN_AGENTS} === '1003'", timeout=2)
        assert await page.evaluate("document.getElementById('agent-count').textContent") == "1"
        await page.evaluate(_set_filter("f-state", ""))
        await page.evaluate(
            "(() => { const e = document.getElementById('f-search'); e.value = '王';"
            " e.dispatchEvent(new Event('input')); return true; })()"
        )
        await wait_for(page, f"{SHOWN_AGENTS} === '1002'", timeout=2)
        await page.evaluate(
            "(() => { const e = document.getElementById('f-search'); e.value = '';"
            " e.dispatchEvent(new Event('input')); return true; })()"
        )
        await wait_for(page, f"{SHOWN_AGENTS}.split(',').length === 4", timeout=2)

        # A narrow laptop window: tiles stack, nothing overflows sideways.
        await page.set_viewport_size({"width": 800, "height": 900})
        overflow = await page.evaluate("document.documentElement.scrollWidth > window.innerWidth + 1")
        assert not overflow
        await page.screenshot(path=artifacts / "wallboard-narrow.png")
    assert (artifacts / "wallboard.png").stat().st_size > 10_000
