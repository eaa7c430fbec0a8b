"""The desktop push benchmark's machinery on a small floor: every desktop connects through
a separate load-generator process and sees its offers and state changes (no speed asserted:
figures belong to `python -m cc_router.bench desk`)."""

from __future__ import annotations

import pytest

from cc_router.bench.desk_bench import run_desk

pytestmark = pytest.mark.asyncio


async def test_small_floor_every_desktop_sees_its_offers() -> None:
    push, core, cost = await run_desk(connections=40, generators=2, seconds=3.0, calls_per_s=8.0, talk_s=1.0)
    assert push["connected"] == 40 and push["failed"] == 0 and push["watchers"] == 40
    assert push["dropped"] == 0
    # Offers during the connected phase reached the screens, and so did the state changes.
    assert push["offers"] >= 10
    assert push["state_changes"] >= 10
    assert 0 < push["offer_to_screen_ms_p50"] <= push["offer_to_screen_ms_p99"]
    assert core["connected_calls"] >= 15 and core["baseline_calls"] >= 15
    assert core["connected_submit_ms_p50"] is not None
    assert cost["router_rss_kb_per_connection"] is not None
