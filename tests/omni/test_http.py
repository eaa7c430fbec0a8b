"""Task and offer routes inside the HTTP engineer's app (auth, 4xx on bad input, long-poll)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine

from cc_router.config import Config
from cc_router.omni.attach import Omni
from cc_router.service import Service

from .conftest import centre_config, http_app, login, start_omni, stop_omni

TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def config() -> Config:
    return centre_config(f"\nhttp: {{token: {TOKEN}}}\n")


@pytest_asyncio.fixture
async def api(
    config: Config, sqlite_engine: AsyncEngine
) -> AsyncIterator[tuple[httpx.AsyncClient, Service, Omni]]:
    service, omni, run = await start_omni(config, sqlite_engine, http=True)
    app = http_app(service)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        yield client, service, omni
    await stop_omni(run)


TASK = {"channel": "email", "queue": "email_service", "customer": "王芳 <wf@example.cn>",
        "subject": "发票", "body": "请寄发票", "attributes": {"lang": "zh"}}  # fmt: skip


@pytest.mark.asyncio
async def test_submit_needs_the_token(api: tuple[httpx.AsyncClient, Service, Omni]) -> None:
    client, _, _ = api
    r = await client.post("/api/tasks", json=TASK)
    assert r.status_code == 401
    r = await client.post("/api/tasks", json=TASK, headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401
    r = await client.get("/api/agents/b1/offers")
    assert r.status_code == 401


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        (b"{not json", 400, "not UTF-8 JSON"),
        (b"[1,2]", 422, "valid dictionary"),
        (b'{"channel": "email"}', 422, "queue: Field required"),
        (b'{"channel": "pigeon", "queue": "email_service"}', 422, "channel"),
        (b'{"channel": "chat", "queue": "email_service"}', 422, "takes email, not chat"),
        (b'{"channel": "email", "queue": "nope"}', 422, "unknown queue"),
        (b'{"channel": "email", "queue": "email_service", "colour": 1}', 422, "colour: Extra inputs"),
        (b'{"channel": "email", "queue": "email_service", "task_id": "bad id!"}', 422, "task_id"),
    ],
)
async def test_bad_payloads_are_4xx_with_a_message(
    api: tuple[httpx.AsyncClient, Service, Omni], body: bytes, status: int, needle: str
) -> None:
    client, _, _ = api
    r = await client.post("/api/tasks", content=body, headers=AUTH)
    assert r.status_code == status, r.text
    assert needle in r.json()["error"]


@pytest.mark.asyncio
async def test_submit_offer_accept_complete_over_http(api: tuple[httpx.AsyncClient, Service, Omni]) -> None:
    client, service, _ = api
    r = await client.post("/api/tasks", json={**TASK, "task_id": "mail-1"}, headers=AUTH)
    assert r.status_code == 201 and r.json() == {"task_id": "mail-1", "status": "queued"}
    r = await client.post("/api/tasks", json={**TASK, "task_id": "mail-1"}, headers=AUTH)
    assert r.status_code == 200  # identical retry

    # A desktop long-polls; the agent logs in meanwhile and the offer arrives.
    poll = asyncio.create_task(client.get("/api/agents/b1/offers?wait=5", headers=AUTH))
    await asyncio.sleep(0.05)
    login(service, "b1")
    r = await poll
    [offer] = r.json()["offers"]
    assert offer["task_id"] == "mail-1" and offer["channel"] == "email" and offer["timeout_s"] == 120
    assert offer["task"]["customer"] == "王芳 <wf@example.cn>" and offer["task"]["subject"] == "发票"

    r = await client.post("/api/tasks/mail-1/accept", json={"agent_id": "a1"}, headers=AUTH)
    assert r.status_code == 409 and "not offered to agent a1" in r.json()["error"]
    r = await client.post("/api/tasks/mail-1/accept", json={}, headers=AUTH)
    assert r.status_code == 422
    r = await client.post("/api/tasks/mail-1/accept", json={"agent_id": "b1"}, headers=AUTH)
    assert r.status_code == 200
    r = await client.post("/api/tasks/mail-1/transfer", json={"queue": "chat_zh"}, headers=AUTH)
    assert r.status_code == 422 and "takes chat" in r.json()["error"]
    r = await client.post(
        "/api/tasks/mail-1/complete", json={"agent_id": "b1", "disposition": "sent"}, headers=AUTH
    )
    assert r.status_code == 200
    r = await client.post("/api/tasks/mail-1/complete", json={"agent_id": "b1"}, headers=AUTH)
    assert r.status_code == 404
    r = await client.post("/api/tasks/mail-1/frobnicate", json={"agent_id": "b1"}, headers=AUTH)
    assert r.status_code == 404
    await _flush(api)
    r = await client.get("/api/tasks/mail-1", headers=AUTH)
    assert r.status_code == 200
    assert r.json()["status"] == "completed" and r.json()["disposition"] == "sent"
    assert (await client.get("/api/tasks/nope", headers=AUTH)).status_code == 404


async def _flush(api: tuple[httpx.AsyncClient, Service, Omni]) -> None:
    await api[2].store.flush()


@pytest.mark.asyncio
async def test_long_poll_times_out_empty(api: tuple[httpx.AsyncClient, Service, Omni]) -> None:
    client, _, _ = api
    r = await client.get("/api/agents/b1/offers?wait=0.1", headers=AUTH)
    assert r.status_code == 200 and r.json()["offers"] == []
    r = await client.get("/api/agents/b1/offers?wait=soon", headers=AUTH)
    assert r.status_code == 400


@pytest.mark.asyncio
async def test_no_token_configured_means_no_task_submission_over_http(sqlite_engine: AsyncEngine) -> None:
    service, _, run = await start_omni(centre_config(), sqlite_engine, http=True)
    try:
        app = http_app(service)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            r = await client.post("/api/tasks", json=TASK)
            assert r.status_code == 403 and "no API token" in r.json()["error"]
    finally:
        await stop_omni(run)


CODED = """
dispositions:
  email_service:
    required: true
    codes: [{code: sent, label: 已回复}, {code: spam, label: 垃圾邮件}]
"""


@pytest_asyncio.fixture
async def coded_api(sqlite_engine: AsyncEngine) -> AsyncIterator[tuple[httpx.AsyncClient, Service, Omni]]:
    service, omni, run = await start_omni(
        centre_config(f"\nhttp: {{token: {TOKEN}}}\n" + CODED), sqlite_engine, http=True
    )
    app = http_app(service)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        yield client, service, omni
    await stop_omni(run)


@pytest.mark.asyncio
async def test_complete_takes_only_the_queues_dispositions(
    coded_api: tuple[httpx.AsyncClient, Service, Omni],
) -> None:
    client, service, omni = coded_api
    login(service, "b1")
    r = await client.post("/api/tasks", json={**TASK, "task_id": "mail-2"}, headers=AUTH)
    assert r.status_code == 201
    r = await client.post("/api/tasks/mail-2/accept", json={"agent_id": "b1"}, headers=AUTH)
    assert r.status_code == 200
    for body, needle in (
        (
            {"agent_id": "b1", "disposition": "solved"},
            "unknown disposition 'solved' for email_service: one of sent, spam",
        ),
        ({"agent_id": "b1"}, "email_service needs a disposition: one of sent, spam"),
    ):
        r = await client.post("/api/tasks/mail-2/complete", json=body, headers=AUTH)
        assert r.status_code == 422 and r.json()["error"] == needle, r.text
        # Refused: nothing changed, the agent still holds the task.
        it = service.router.interactions["mail-2"]
        assert it.stage.value == "connected" and it.agent_id == "b1"
    await omni.store.flush()
    r = await client.get("/api/tasks/mail-2", headers=AUTH)
    assert r.json()["status"] == "connected" and r.json()["disposition"] == ""

    r = await client.post(
        "/api/tasks/mail-2/complete", json={"agent_id": "b1", "disposition": "spam"}, headers=AUTH
    )
    assert r.status_code == 200, r.text
    assert "mail-2" not in service.router.interactions
    await omni.store.flush()
    r = await client.get("/api/tasks/mail-2", headers=AUTH)
    assert r.json()["status"] == "completed" and r.json()["disposition"] == "spam"
