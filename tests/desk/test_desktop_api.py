"""The desktop's routes over HTTP against the whole service: the voice path through core
events (ringing, connected, wrap-up with a code), pause reasons and cross-agent refusals."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from cc_router.core import events as ev
from cc_router.store.reports import read_queue_intervals, write_intervals
from cc_router.store.tables import InteractionRow
from tests.desk_stack import PASSWORD, TOKEN, desk_stack, wait_until

pytestmark = pytest.mark.asyncio

FLAG_FAST = (
    "  - {code: brief, label: 短休 brief, max_s: 0.3, on_max: flag}\n"
    "  - {code: nap, label: nap, max_s: 0.3, on_max: ready}\n"
)


async def _login(client: httpx.AsyncClient, user: str) -> dict[str, str]:
    r = await client.post("/api/auth/login", json={"user": user, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


async def _first_desk_event(client: httpx.AsyncClient, token_header: dict[str, str]) -> dict[str, object]:
    token = token_header["Authorization"].split()[1]
    async with client.stream("GET", f"/api/desktop/stream?token={token}") as r:
        assert r.status_code == 200
        async for line in r.aiter_lines():
            if line.startswith("data: "):
                data: dict[str, object] = json.loads(line[6:])
                return data
    raise AssertionError("no event")


async def test_voice_rings_connects_and_wraps_up_with_a_code(tmp_path: Path) -> None:
    async with desk_stack(tmp_path) as stack, httpx.AsyncClient(base_url=stack.base) as client:
        s = stack.service
        zhang = await _login(client, "zhang")
        assert (await client.post("/api/desktop/ready", headers=zhang)).status_code == 200
        s.submit(ev.InteractionArrived("call-1", "billing", caller="13800138000"))
        pic = await _first_desk_event(client, zhang)
        offer = pic["offers"][0]  # type: ignore[index]
        assert (
            offer["channel"] == "voice" and offer["caller"] == "13800138000" and offer["queue"] == "billing"
        )
        assert "longest_idle" in offer["reason"]
        # A call is answered on the phone, not by the page.
        r = await client.post("/api/desktop/offers/call-1/accept", headers=zhang)
        assert r.status_code == 409
        s.submit(ev.OfferAccepted("call-1", "1001"))
        pic = await _first_desk_event(client, zhang)
        assert [w["stage"] for w in pic["agent"]["interactions"]] == ["connected"]  # type: ignore[index]
        s.submit(ev.InteractionEnded("call-1", "caller_hangup"))
        pic = await _first_desk_event(client, zhang)
        wrap = pic["wrap_up"][0]  # type: ignore[index]
        assert wrap["interaction_id"] == "call-1" and wrap["ends_at"] > pic["now"]  # type: ignore[operator]
        assert [c["code"] for c in wrap["codes"]] == ["paid", "complaint"]
        bad = await client.post("/api/desktop/disposition", headers=zhang, json={"code": "nonsense"})
        assert bad.status_code == 422
        ok = await client.post("/api/desktop/disposition", headers=zhang, json={"code": "paid"})
        assert ok.status_code == 200 and ok.json()["wrap_up"][0]["code"] == "paid"
        assert (await client.post("/api/desktop/ready", headers=zhang)).status_code == 200
        assert str(s.router.agents["1001"].state) == "ready"
        assert ok.json()["figures"]["handled"] == 1

        async def row() -> tuple[str, str | None] | None:
            async with stack.engine.connect() as conn:
                r = (
                    await conn.execute(
                        select(InteractionRow.disposition, InteractionRow.wrapup_code).where(
                            InteractionRow.interaction_id == "call-1"
                        )
                    )
                ).first()
            return None if r is None else (r[0], r[1])

        for _ in range(100):
            if await row() == ("caller_hangup", "paid"):
                break
            await asyncio.sleep(0.1)
        assert await row() == ("caller_hangup", "paid")
        # Counted in the queue's 15-minute report row.
        since, until = datetime.now(UTC) - timedelta(minutes=20), datetime.now(UTC) + timedelta(minutes=1)
        await write_intervals(stack.engine, since, until)
        async with stack.engine.connect() as conn:
            rows = await read_queue_intervals(conn, since, until)
        assert [r["dispositions"] for r in rows if r["queue"] == "billing"] == [{"paid": 1}]


async def test_agent_cannot_act_for_another_agent(tmp_path: Path) -> None:
    async with desk_stack(tmp_path) as stack, httpx.AsyncClient(base_url=stack.base) as client:
        s = stack.service
        s.submit(ev.AgentLoggedIn("1002"))
        zhang = await _login(client, "zhang")
        r = await client.post("/api/desktop/pause?agent=1002", headers=zhang, json={"code": "lunch"})
        assert r.status_code == 403
        r = await client.post("/api/agents/1002/pause", headers=zhang, json={"reason": "lunch"})
        assert r.status_code == 403
        token = zhang["Authorization"].split()[1]
        assert (await client.get(f"/api/desktop/stream?token={token}&agent=1002")).status_code == 403
        assert (await client.get("/api/agents/1002/offers", headers=zhang)).status_code == 403
        assert str(s.router.agents["1002"].state) == "ready"
        # A supervisor may, for any agent (no scope).
        boss = await _login(client, "boss")
        r = await client.post("/api/desktop/pause?agent=1002", headers=boss, json={"code": "training"})
        assert r.status_code == 200 and str(s.router.agents["1002"].state) == "paused"
        # Without a login: nothing.
        assert (await client.post("/api/desktop/ready?agent=1001")).status_code == 401


async def test_pause_reasons_limit_and_flag(tmp_path: Path) -> None:
    from tests.desk_stack import CENTRE

    text = CENTRE.replace("pause_reasons:\n", "pause_reasons:\n" + FLAG_FAST)
    from cc_router.config import loads_config

    async with (
        desk_stack(tmp_path, config=loads_config(text, env={})) as stack,
        httpx.AsyncClient(base_url=stack.base) as client,
    ):
        s = stack.service
        zhang = await _login(client, "zhang")
        wang = await _login(client, "wang")
        await client.post("/api/desktop/login", headers=zhang)
        await client.post("/api/desktop/login", headers=wang)
        r = await client.post("/api/desktop/pause", headers=zhang, json={"code": "smoking"})
        assert r.status_code == 422 and "unknown pause reason" in r.json()["error"]
        # "ready" reason: the core ends the pause at its maximum.
        assert (
            await client.post("/api/desktop/pause", headers=zhang, json={"code": "nap"})
        ).status_code == 200
        # "flag" reason: stays paused, and is listed as over time.
        assert (
            await client.post("/api/desktop/pause", headers=wang, json={"code": "brief"})
        ).status_code == 200
        await wait_until(lambda: str(s.router.agents["1001"].state) == "ready", timeout=5)
        await asyncio.sleep(0.4)
        assert str(s.router.agents["1002"].state) == "paused"
        boss = await _login(client, "boss")
        over = (await client.get("/api/pauses/overdue", headers=boss)).json()["agents"]
        assert [(a["agent_id"], a["code"], a["over"]) for a in over] == [("1002", "brief", True)]
        assert (await client.get("/api/pauses/overdue", headers=wang)).status_code == 403
        cfg = (await client.get("/api/desktop/config", headers=wang)).json()
        assert cfg["agent_id"] == "1002" and [p["code"] for p in cfg["pause_reasons"]][:2] == ["brief", "nap"]


async def test_an_agent_cannot_touch_another_agents_offer_or_task(tmp_path: Path) -> None:
    async with desk_stack(tmp_path) as stack, httpx.AsyncClient(base_url=stack.base) as client:
        tokens = {"1001": await _login(client, "zhang"), "1002": await _login(client, "wang")}
        for h in tokens.values():
            assert (await client.post("/api/desktop/ready", headers=h)).status_code == 200
        r = await client.post(
            "/api/tasks",
            headers={"Authorization": f"Bearer {TOKEN}"},
            json={"task_id": "chat-9", "channel": "chat", "queue": "chat_zh", "customer": "刘女士"},
        )
        assert r.status_code == 201, r.text
        hub = stack.built.desk
        await wait_until(lambda: any(o["interaction_id"] == "chat-9" for o in hub.offers.values()), 5)
        owner = next(a for a, o in hub.offers.items() if o["interaction_id"] == "chat-9")
        other = "1002" if owner == "1001" else "1001"
        mine, theirs = tokens[owner], tokens[other]
        # The other agent: not through the desktop, not through the task API, not reading it.
        r = await client.post(f"/api/desktop/offers/chat-9/accept?agent={owner}", headers=theirs)
        assert r.status_code == 403
        r = await client.post("/api/tasks/chat-9/accept", headers=theirs, json={"agent_id": owner})
        assert r.status_code == 403
        r = await client.post("/api/tasks/chat-9/reject", headers=theirs, json={"agent_id": owner})
        assert r.status_code == 403
        assert (await client.get("/api/tasks/chat-9", headers=theirs)).status_code == 403
        assert hub.offers[owner]["interaction_id"] == "chat-9"
        # The owner may.
        r = await client.post("/api/tasks/chat-9/accept", headers=mine, json={"agent_id": owner})
        assert r.status_code == 200, r.text
        assert (await client.get("/api/tasks/chat-9", headers=mine)).status_code == 200
        r = await client.post("/api/desktop/tasks/chat-9/complete", headers=theirs, json={"agent_id": owner})
        assert r.status_code == 403
        r = await client.post(
            "/api/tasks/chat-9/complete", headers=theirs, json={"agent_id": owner, "disposition": "resolved"}
        )
        assert r.status_code == 403
        r = await client.post("/api/desktop/tasks/chat-9/complete", headers=mine, json={"code": "callback"})
        assert r.status_code == 200, r.text
