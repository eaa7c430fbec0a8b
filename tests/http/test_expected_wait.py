"""Expected waits in the API and the wallboard feed."""

from __future__ import annotations

import pytest

from cc_router.core import events as ev
from cc_router.core.estimate import DEFAULT_TALK_S
from tests.http.conftest import Env, busy_floor

pytestmark = pytest.mark.asyncio


async def test_waiting_rows_and_queues_carry_expected_waits(env: Env) -> None:
    busy_floor(env)  # 1001 (billing) talking; c3 (priority 5) then c2 waiting for billing
    rows = (await env.client.get("/api/interactions")).json()["interactions"]
    ewt = {r["id"]: r["ewt_s"] for r in rows}
    # One agent, nothing finished yet: one talk time each, in serving order.
    assert ewt == {"c3": pytest.approx(DEFAULT_TALK_S, abs=1), "c2": pytest.approx(2 * DEFAULT_TALK_S, abs=1)}
    queues = {q["name"]: q for q in (await env.client.get("/api/queues")).json()["queues"]}
    assert queues["billing"]["ewt_longest_s"] == ewt["c2"]
    assert queues["billing"]["ewt_new_s"] == pytest.approx(3 * DEFAULT_TALK_S, abs=1)
    assert queues["sales"]["ewt_new_s"] == 0.0  # 1002 is free
    assert queues["sales"]["ewt_longest_s"] is None  # nobody waiting
    # Re-prioritised: c2 goes first, and the figures follow.
    await env.client.post("/api/interactions/c2/priority", headers=env.auth, json={"priority": 9})
    rows = (await env.client.get("/api/interactions")).json()["interactions"]
    assert [(r["id"], r["ewt_s"]) for r in rows] == [("c2", ewt["c3"]), ("c3", ewt["c2"])]


async def test_unknown_when_nobody_who_could_serve_is_working(env: Env) -> None:
    busy_floor(env)
    env.service.submit(ev.InteractionEnded("c1"))
    env.service.submit(ev.AgentLoggedOut("1001"))  # the only billing agent working leaves
    rows = (await env.client.get("/api/interactions")).json()["interactions"]
    assert [(r["id"], r["ewt_s"]) for r in rows] == [("c3", None), ("c2", None)]
    billing = (await env.client.get("/api/queues/billing")).json()
    assert billing["ewt_new_s"] is None and billing["ewt_longest_s"] is None
