"""Read API: live figures, UTF-8 names, positions, SSE."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest

from cc_router.core import events as ev
from tests.http.centre import TOKEN, load, make_service, running, write_centre
from tests.http.conftest import Env, busy_floor

pytestmark = pytest.mark.asyncio


async def test_queues_show_waiting_longest_wait_and_agents(env: Env) -> None:
    busy_floor(env)
    r = await env.client.get("/api/queues")
    assert r.status_code == 200
    body = r.json()
    assert body["centre"] == "洛阳呼叫中心 test"
    assert "洛阳" in r.text  # not \u-escaped
    billing = next(q for q in body["queues"] if q["name"] == "billing")
    assert billing["waiting"] == 2
    assert billing["longest_wait_s"] == 5.0
    assert billing["agents"]["busy"] == 1
    assert billing["today"]["offered"] == 3
    assert billing["today"]["answered"] == 1
    assert billing["today"]["sl_pct"] == 100.0
    assert billing["today"]["asa_s"] == 5.0
    voice = next(c for c in body["channels"] if c["channel"] == "voice")
    assert voice["waiting"] == 2 and voice["agents"]["ready"] == 1


async def test_one_queue_lists_its_interactions_in_service_order(env: Env) -> None:
    busy_floor(env)
    r = await env.client.get("/api/queues/billing")
    assert r.status_code == 200
    ids = [(i["id"], i["position"]) for i in r.json()["interactions"]]
    assert ids == [("c3", 1), ("c2", 2)]  # c3 has priority
    for i in r.json()["interactions"]:
        assert i["position"] == env.service.router.position(i["id"])
    assert (await env.client.get("/api/queues/nope")).status_code == 404


async def test_agents_and_interactions(env: Env) -> None:
    busy_floor(env)
    agents = (await env.client.get("/api/agents")).json()["agents"]
    by_id = {a["id"]: a for a in agents}
    assert by_id["1001"]["name"] == "张伟"
    assert by_id["1001"]["state"] == "busy"
    assert by_id["1001"]["time_in_state_s"] == 5.0
    assert by_id["1001"]["interactions"] == [
        {"id": "c1", "queue": "billing", "channel": "voice", "stage": "connected"}
    ]
    assert by_id["1003"]["state"] == "logged_out"
    logged_in = (await env.client.get("/api/agents", params={"logged_out": "false"})).json()["agents"]
    assert {a["id"] for a in logged_in} == {"1001", "1002"}
    one = await env.client.get("/api/agents/1002")
    assert one.json()["skills"] == {"lang_zh": 4, "sales": 4}
    assert (await env.client.get("/api/agents/9999")).status_code == 404
    waiting = (await env.client.get("/api/interactions")).json()["interactions"]
    assert {w["id"] for w in waiting} == {"c2", "c3"}
    assert (await env.client.get("/api/interactions", params={"limit": "x"})).status_code == 400


async def test_abandon_counts_against_sl_only_after_threshold(env: Env) -> None:
    busy_floor(env)
    env.service.submit(ev.InteractionAbandoned("c2"))  # waited 5 s < 20 s
    env.clock.t += 30
    env.service.submit(ev.InteractionAbandoned("c3"))  # waited 33 s
    today = (await env.client.get("/api/queues/billing")).json()["today"]
    assert today["abandoned"] == 2
    assert today["abandoned_after_sl"] == 1
    assert today["sl_pct"] == 50.0
    assert today["abandon_pct"] == pytest.approx(66.7)


async def test_reads_need_token_when_configured(tmp_path: Path) -> None:
    path = write_centre(tmp_path, extra="")
    path.write_text(
        path.read_text().replace(f"token: {TOKEN}}}", f"token: {TOKEN}, reads_need_token: true}}")
    )
    service = make_service(load(path))
    from cc_router.http import attach_http

    app = attach_http(service, port=0).app
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        assert (await c.get("/api/queues")).status_code == 401
        assert (await c.get("/api/queues", headers={"Authorization": "Bearer nope"})).status_code == 401
        assert (await c.get("/api/queues", headers={"Authorization": f"Bearer {TOKEN}"})).status_code == 200
        assert (await c.get("/api/queues", params={"token": TOKEN})).status_code == 200
        assert (await c.get("/livez")).status_code == 200


async def test_sse_stream_sends_snapshot_then_updates(tmp_path: Path) -> None:
    service = make_service(load(write_centre(tmp_path)))
    async with (
        running(service) as (base, _),
        httpx.AsyncClient(timeout=5) as client,
        client.stream("GET", f"{base}/api/stream") as r,
    ):
        assert r.headers["content-type"].startswith("text/event-stream")
        events: list[tuple[str, dict[str, object]]] = []
        kind = ""

        async def read() -> None:
            nonlocal kind
            async for line in r.aiter_lines():
                if line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: "):
                    events.append((kind, json.loads(line[6:])))
                    if len(events) == 2:
                        return

        reader = asyncio.create_task(read())
        await asyncio.sleep(0.2)
        service.submit(ev.AgentLoggedIn("1002"))
        await asyncio.wait_for(reader, 2)
    assert events[0][0] == "snapshot" and events[0][1]["full"] is True
    assert events[1][0] == "update"
    changed = events[1][1]["agents"]
    assert isinstance(changed, list) and [a["id"] for a in changed] == ["1002"]
    assert changed[0]["name"] == "王芳"


async def test_wallboard_and_docs_are_served(env: Env) -> None:
    r = await env.client.get("/")
    assert r.status_code == 200 and "wallboard.js" in r.text
    assert (await env.client.get("/static/wallboard.js")).status_code == 200
    assert (await env.client.get("/static/wallboard.css")).status_code == 200
    doc = (await env.client.get("/openapi.json")).json()
    assert "/api/agents/{agent_id}/pause" in doc["paths"]
    assert "PauseBody" in doc["components"]["schemas"]
    assert "/api/config/reload" in (await env.client.get("/docs")).text
