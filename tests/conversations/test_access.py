"""Who may read and answer a conversation, by login: the agent holding it reads and
replies; another agent, a supervisor outside the queue's scope and a viewer are refused;
supervisors in scope read but do not answer; nobody reads after the holder let go but
supervisors."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio

from cc_router.accounts.attach import install
from cc_router.accounts.book import AccountBook
from cc_router.accounts.users import add_user

from .conftest import AUTH, Running

pytestmark = pytest.mark.asyncio
PASSWORD = "conv-pass-1"
USERS: dict[str, dict[str, object]] = {
    "zhang": {"role": "agent", "agent_id": "a1"},
    "wang": {"role": "agent", "agent_id": "a2"},
    "boss": {"role": "supervisor"},
    "chat_sup": {"role": "supervisor", "queues": frozenset({"chat_billing"})},
    "mail_sup": {"role": "supervisor", "queues": frozenset({"email_service"})},
    "screen": {"role": "viewer"},
}


@pytest_asyncio.fixture
async def logins(chat_centre: tuple[httpx.AsyncClient, Running]) -> AsyncIterator[dict[str, dict[str, str]]]:
    _, run = chat_centre
    engine = run.omni.engine
    for name, spec in USERS.items():
        extra = {k: v for k, v in spec.items() if k != "role"}
        await add_user(engine, name, str(spec["role"]), PASSWORD, **extra)  # type: ignore[arg-type]
    book = install(run.service, AccountBook(engine, run.service.config.accounts))
    await book.refresh()
    heads = {}
    for name in USERS:
        result = await book.login(name, PASSWORD, "127.0.0.1")
        assert result.token is not None, result.error
        heads[name] = {"Authorization": f"Bearer {result.token}"}
    yield heads


async def test_the_holding_agent_and_supervisors_in_scope_only(
    chat_centre: tuple[httpx.AsyncClient, Running], logins: dict[str, dict[str, str]]
) -> None:
    client, run = chat_centre
    r = await client.post("/chat/api/start", json={"topic": "billing", "text": "账单问题"})
    conv_id = r.json()["conversation_id"]
    run.login("a1")
    conv = await run.conv.hub.store.get(conv_id)
    assert conv is not None and conv.task_id is not None
    r = await client.post(f"/api/tasks/{conv.task_id}/accept", json={"agent_id": "a1"}, headers=AUTH)
    assert r.status_code == 200, r.text
    url = f"/api/conversations/{conv_id}"

    async def reads(user: str) -> int:
        return (await client.get(url, headers=logins[user])).status_code

    assert await reads("zhang") == 200
    r = await client.post(f"{url}/messages", json={"text": "您好，我是张伟"}, headers=logins["zhang"])
    assert r.status_code == 201, r.text
    assert r.json()["author"] == "a1"
    r = await client.post(f"{url}/messages", json={"text": "冒充", "agent_id": "a2"}, headers=logins["zhang"])
    assert r.status_code == 403

    # Another agent: neither the transcript, nor by task, nor live, nor a reply.
    assert await reads("wang") == 403
    assert (
        await client.get(f"/api/tasks/{conv.task_id}/conversation", headers=logins["wang"])
    ).status_code == 403
    token = logins["wang"]["Authorization"].split()[1]
    assert (await client.get(f"{url}/stream?token={token}")).status_code == 403
    r = await client.post(f"{url}/messages", json={"text": "插话"}, headers=logins["wang"])
    assert r.status_code == 403 and "not held by agent a2" in r.json()["error"]

    assert await reads("boss") == 200
    assert await reads("chat_sup") == 200
    assert await reads("mail_sup") == 403  # scope: the e-mail queue only
    assert await reads("screen") == 403
    r = await client.post(f"{url}/messages", json={"text": "x", "agent_id": "a1"}, headers=logins["boss"])
    assert r.status_code == 403 and "not answer" in r.json()["error"]
    r = await client.post(f"{url}/messages", json={"text": "x"}, headers=logins["screen"])
    assert r.status_code == 403
    assert (await client.get(url)).status_code == 401

    got = (await client.get(url, headers=logins["boss"])).json()
    assert [(m["author"], m["body"]) for m in got["messages"]] == [
        ("customer", "账单问题"),
        ("a1", "您好，我是张伟"),
    ]

    r = await client.post(f"/api/tasks/{conv.task_id}/complete", json={"agent_id": "a1"}, headers=AUTH)
    assert r.status_code == 200
    await run.conv.hub.drain()
    # Let go: the agent no longer reads it; supervisors still do.
    assert await reads("zhang") == 403
    assert await reads("boss") == 200
