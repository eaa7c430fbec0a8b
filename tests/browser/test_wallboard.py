"""The wallboard in Debian's headless chromium: figures follow events within a second."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from cc_router.core import commands as cmd
from cc_router.core import events as ev
from tests.browser.cdp import CHROMIUM, open_page
from tests.http.centre import load, make_service, running, write_centre

pytestmark = [pytest.mark.browser, pytest.mark.asyncio]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def _waiting(queue: str) -> str:
    return f'document.querySelector(\'[data-queue="{queue}"] [data-field="waiting"]\')?.textContent'


def _agent_state(agent: str) -> str:
    return f'document.querySelector(\'[data-agent="{agent}"] [data-field="state"]\')?.dataset.state'


async def test_wallboard_follows_events(tmp_path: Path) -> None:
    assert shutil.which(CHROMIUM) or Path(CHROMIUM).exists(), "apt-get install -y chromium"
    service = make_service(load(write_centre(tmp_path)), clock=time.time)  # type: ignore[arg-type]
    for aid in ("1001", "1002", "1003"):
        service.submit(ev.AgentLoggedIn(aid))
    service.submit(ev.AgentPaused("1003", "培训 training"))
    service.submit(ev.AgentPaused("1001", "lunch"))

    async with running(service) as (base, _), open_page(f"{base}/") as page:
        await page.wait_for("document.body.dataset.version !== undefined")
        assert await page.eval(_waiting("billing")) == "0"
        assert "张伟" in await page.eval("document.getElementById('agents').textContent")

        service.submit(ev.InteractionArrived("c1", "billing", caller="13800138000"))
        service.submit(ev.InteractionArrived("c2", "billing", caller="13900139000"))
        await page.wait_for(f"{_waiting('billing')} === '2'", timeout=1.5)

        # 1001 comes back from lunch: offered c1, answers; billing drops to one waiting.
        out = service.submit(ev.AgentUnpaused("1001"))
        offer = next(c for c in out if isinstance(c, cmd.Offer))
        assert offer.agent_id == "1001"
        await page.wait_for(f"{_agent_state('1001')} === 'reserved'", timeout=1.5)
        service.submit(ev.OfferAccepted(offer.interaction_id, "1001"))
        await page.wait_for(f"{_waiting('billing')} === '1'", timeout=1.5)
        await page.wait_for(f"{_agent_state('1001')} === 'busy'", timeout=1.5)
        service.submit(ev.InteractionArrived("c3", "sales", caller="13700137000", priority=1))
        await page.wait_for(f"{_agent_state('1002')} === 'reserved'", timeout=1.5)

        tiles = await page.eval("document.querySelectorAll('.tile').length")
        assert tiles == 2
        # Time in state ticks client-side.
        await page.wait_for(
            "[...document.querySelectorAll('.agent [data-field=time]')].some(e => e.textContent === '0:01')",
            timeout=3,
        )
        await page.screenshot(ARTIFACTS / "wallboard.png")

        # A narrow laptop window: tiles stack, nothing overflows sideways.
        await page.call(
            "Emulation.setDeviceMetricsOverride", width=800, height=900, deviceScaleFactor=1, mobile=False
        )
        overflow = await page.eval("document.documentElement.scrollWidth > window.innerWidth + 1")
        assert not overflow
        await page.screenshot(ARTIFACTS / "wallboard-narrow.png")
    assert (ARTIFACTS / "wallboard.png").stat().st_size > 10_000
