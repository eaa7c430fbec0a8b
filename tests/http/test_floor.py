"""Channel summaries (slots per channel) and agent lists a 20,000-seat floor can use."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from cc_router.core import commands as cmd
from cc_router.core import events as ev
from cc_router.http import attach_http
from cc_router.live import LiveView
from cc_router.service import Service
from tests.http.centre import FakeClock, load, make_service, running

pytestmark = pytest.mark.asyncio

BLENDED_YAML = """
centre: {name: blended floor, timezone: Asia/Shanghai}
skills: [lang_zh, billing]
profiles:
  blended:
    capacity: {voice: 1, chat: 3}
    blocks: {voice: [chat, email, sms, fax], chat: []}
seat_pools: [{name: floor1}, {name: floor2}]
agents:
  - {id: b1, name: 刘洋, pool: floor1, profile: blended, skills: {lang_zh: 5, billing: 4}}
  - {id: b2, name: 陈静, pool: floor1, profile: blended, skills: {lang_zh: 3}}
  - {id: v1, name: 赵磊, pool: floor2, skills: {billing: 3}}
  - {id: v2, name: 孙丽, pool: floor2, skills: {billing: 3}}
  - {id: v3, name: 周强, pool: floor2, skills: {billing: 3}}
queues:
  - {name: billing_voice, requirement: "billing >= 3"}
  - {name: chat_zh, channel: chat, requirement: "lang_zh >= 3", wrapup_s: 10}
"""


@pytest.fixture
def floor(tmp_path: Path) -> tuple[Service, FakeClock]:
    path = tmp_path / "blended.yaml"
    path.write_text(BLENDED_YAML, encoding="utf-8")
    clock = FakeClock()
    return make_service(load(path), clock), clock


@pytest_asyncio.fixture
async def client(floor: tuple[Service, FakeClock]) -> AsyncIterator[httpx.AsyncClient]:
    app = attach_http(floor[0], port=0).app
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        yield c


def _accept(service: Service, out: list[cmd.Command]) -> str:
    offer = next(c for c in out if isinstance(c, cmd.Offer))
    service.submit(ev.OfferAccepted(offer.interaction_id, offer.agent_id))
    return offer.agent_id


def _channel(body: dict[str, Any], name: str) -> dict[str, Any]:
    channels = body["channels"]
    assert isinstance(channels, list)
    return next(c for c in channels if c["channel"] == name)


async def test_agent_on_a_call_with_two_chats(
    floor: tuple[Service, FakeClock], client: httpx.AsyncClient
) -> None:
    service, clock = floor
    service.submit(ev.AgentLoggedIn("b1"))
    service.submit(ev.AgentLoggedIn("v1"))
    # b1 alone serves chat_zh: two chats, then a call (chat does not block voice).
    assert _accept(service, service.submit(ev.InteractionArrived("ch1", "chat_zh"))) == "b1"
    assert _accept(service, service.submit(ev.InteractionArrived("ch2", "chat_zh"))) == "b1"
    service.submit(ev.AgentLoggedOut("v1"))
    assert _accept(service, service.submit(ev.InteractionArrived("call1", "billing_voice"))) == "b1"
    clock.t += 4
    service.submit(ev.InteractionArrived("ch3", "chat_zh"))  # voice blocks chat: waits

    body = (await client.get("/api/channels")).json()
    assert [c["channel"] for c in body["channels"]] == ["voice", "chat", "email", "sms", "fax"]
    chat, voice = _channel(body, "chat"), _channel(body, "voice")
    assert chat["slots"] == {"used": 2, "total": 3}
    assert voice["slots"] == {"used": 1, "total": 1}  # v1 logged out: its slot is not counted
    assert chat["waiting"] == 1 and chat["longest_wait_s"] == 0.0
    clock.t += 6
    body = (await client.get("/api/channels")).json()
    chat = _channel(body, "chat")
    assert chat["longest_wait_s"] == 6.0
    assert chat["today"]["offered"] == 3 and chat["today"]["answered"] == 2
    assert chat["today"]["sl_pct"] == 100.0
    assert _channel(body, "voice")["today"]["offered"] == 1

    b1 = (await client.get("/api/agents/b1")).json()
    assert b1["state"] == "busy"
    assert b1["load"] == {"voice": {"used": 1, "capacity": 1}, "chat": {"used": 2, "capacity": 3}}


async def test_wrap_up_ending_on_a_tick_frees_the_chat_slot(floor: tuple[Service, FakeClock]) -> None:
    service, clock = floor
    live = LiveView.attach(service)
    service.submit(ev.AgentLoggedIn("b1"))
    _accept(service, service.submit(ev.InteractionArrived("ch1", "chat_zh")))
    _accept(service, service.submit(ev.InteractionArrived("ch2", "chat_zh")))
    service.submit(ev.InteractionEnded("ch1"))  # 10 s wrap-up, still busy on ch2
    chat = next(c for c in live.channels() if c["channel"] == "chat")
    assert chat["slots"] == {"used": 2, "total": 3}
    version = live.version
    clock.t += 11
    service.submit(ev.Tick())  # the core's wrap timer: no command names b1
    assert service.router.agents["b1"].state == "busy"
    chat = next(c for c in live.channels() if c["channel"] == "chat")
    assert chat["slots"] == {"used": 1, "total": 3}
    assert live.version > version  # streams hear about it
    service.submit(ev.AgentWrapUpDone("b1"))
    service.submit(ev.InteractionEnded("ch2"))
    service.submit(ev.AgentWrapUpDone("b1"))
    chat = next(c for c in live.channels() if c["channel"] == "chat")
    assert chat["slots"] == {"used": 0, "total": 3}
    service.submit(ev.AgentLoggedOut("b1"))
    chat = next(c for c in live.channels() if c["channel"] == "chat")
    assert chat["slots"] == {"used": 0, "total": 0}


async def test_agent_list_order_filters_and_pages(
    floor: tuple[Service, FakeClock], client: httpx.AsyncClient
) -> None:
    service, clock = floor
    for aid in ("v1", "v2", "v3", "b1"):
        service.submit(ev.AgentLoggedIn(aid))
        clock.t += 1
    service.submit(ev.AgentPaused("v3", "lunch"))
    clock.t += 1
    service.submit(ev.AgentPaused("v1", "break"))
    clock.t += 1
    body = (await client.get("/api/agents")).json()
    # Not ready first, longest in state first; logged-out last.
    assert [a["id"] for a in body["agents"]] == ["v3", "v1", "v2", "b1", "b2"]
    assert body["total"] == 5 and body["counts"]["paused"] == 2 and body["counts"]["logged_out"] == 1

    page = (await client.get("/api/agents", params={"limit": 2, "offset": 1})).json()
    assert [a["id"] for a in page["agents"]] == ["v1", "v2"] and page["total"] == 5

    async def ids(**params: str) -> list[str]:
        r = await client.get("/api/agents", params=params)
        assert r.status_code == 200, r.text
        return [a["id"] for a in r.json()["agents"]]

    assert await ids(pool="floor1") == ["b1", "b2"]
    assert await ids(queue="chat_zh") == ["b1", "b2"]
    assert await ids(channel="chat", logged_out="false") == ["b1"]
    assert await ids(state="not_ready") == ["v3", "v1"]
    assert await ids(state="ready,logged_out") == ["v2", "b1", "b2"]
    assert await ids(search="孙") == ["v2"]
    assert await ids(pool="floor2", state="paused", search="V1") == ["v1"]
    both = (await client.get("/api/agents", params={"pool": "floor2", "queue": "billing_voice"})).json()
    assert both["counts"]["paused"] == 2 and both["counts"]["ready"] == 1 and both["total"] == 3

    # Unpausing puts v3 behind the agents already ready.
    service.submit(ev.AgentUnpaused("v3"))
    assert await ids(state="ready") == ["v2", "b1", "v3"]
    for bad in (
        {"state": "asleep"},
        {"queue": "nope"},
        {"pool": "x"},
        {"channel": "pigeon"},
        {"offset": "-1"},
    ):
        r = await client.get("/api/agents", params=bad)
        assert r.status_code == 400 and r.json()["error"], bad


async def test_stream_sends_one_page_then_only_changes(floor: tuple[Service, FakeClock]) -> None:
    service, clock = floor
    for aid in ("v1", "v2", "v3", "b1", "b2"):
        service.submit(ev.AgentLoggedIn(aid))
        clock.t += 1
    service.submit(ev.AgentPaused("v2", "training"))
    async with (
        running(service) as (base, _),
        httpx.AsyncClient(timeout=5) as http,
        http.stream("GET", f"{base}/api/stream", params={"limit": "2", "pool": "floor2"}) as r,
    ):
        assert r.status_code == 200
        messages: list[dict[str, Any]] = []
        lines = r.aiter_lines()

        async def read(n: int) -> None:
            async for line in lines:
                if line.startswith("data: "):
                    messages.append(json.loads(line[6:]))
                    if len(messages) == n:
                        return

        await asyncio.wait_for(read(1), 3)
        snap = messages[0]
        assert snap["full"] is True
        assert snap["agent_page"] == {
            "total": 3,
            "counts": {"paused": 1, "wrap_up": 0, "busy": 0, "reserved": 0, "ready": 2, "logged_out": 0},
            "offset": 0,
            "limit": 2,
            "filter": {
                "queue": None,
                "pool": "floor2",
                "channel": None,
                "state": None,
                "search": None,
                "logged_out": True,
            },
            "ids": ["v2", "v1"],
        }
        rows = snap["agents"]
        assert isinstance(rows, list) and [a["id"] for a in rows] == ["v2", "v1"]
        assert "skills" not in rows[0]  # the stream leaves the bulky parts out
        assert [c["channel"] for c in snap["channels"]] == ["voice", "chat", "email", "sms", "fax"]

        service.submit(ev.AgentPaused("v3", "lunch"))  # joins the page, pushes v1 out
        service.submit(ev.AgentPaused("b1", "lunch"))  # not in the pool: not sent
        await asyncio.wait_for(read(2), 3)
        update = messages[1]
        assert update["full"] is False
        page = update["agent_page"]
        assert isinstance(page, dict) and page["ids"] == ["v2", "v3"] and page["total"] == 3
        assert [a["id"] for a in update["agents"]] == ["v3"]
