"""Login, sessions and role checks over HTTP, each rule tested both ways."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from cc_router.accounts.book import token_hash
from cc_router.accounts.users import set_disabled
from cc_router.core import events as ev
from tests.accounts.conftest import PASSWORD, Env, make_env
from tests.http.centre import TOKEN

pytestmark = pytest.mark.asyncio


async def test_login_returns_a_token_with_expiry_and_stores_only_its_hash(env: Env) -> None:
    r = await env.client.post("/api/auth/login", json={"user": "zhang", "password": PASSWORD})
    assert r.status_code == 200
    body = r.json()
    assert body["user"] == {
        "user": "zhang",
        "role": "agent",
        "agent_id": "1001",
        "queues": [],
        "pools": [],
        "disabled": False,
    }
    assert body["expires_at"] == pytest.approx(env.clock.t + 12 * 3600)
    token = body["token"]
    assert token not in env.book.sessions and token_hash(token) in env.book.sessions
    me = await env.client.get("/api/auth/me", headers=env.bearer(token))
    assert me.json()["agent_id"] == "1001"
    # Expired: refused.
    env.clock.t += 12 * 3600 + 1
    assert (await env.client.get("/api/auth/me", headers=env.bearer(token))).status_code == 401


async def test_wrong_password_fails_and_is_logged_without_it(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    r = await env.client.post("/api/auth/login", json={"user": "zhang", "password": "not-the-password"})
    assert r.status_code == 401
    assert "not-the-password" not in r.text
    r = await env.client.post("/api/auth/login", json={"user": "nobody", "password": "whatever1"})
    assert r.status_code == 401 and r.json()["error"] == "wrong user name or password"
    assert (await env.client.post("/api/auth/login", content=b"{")).status_code == 422


async def test_failed_logins_are_rate_limited_per_user(env: Env) -> None:
    for _ in range(5):
        r = await env.client.post("/api/auth/login", json={"user": "wang", "password": "wrong-wrong"})
        assert r.status_code == 401
    # Locked now, even with the right password, until the window passes.
    r = await env.client.post("/api/auth/login", json={"user": "wang", "password": PASSWORD})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    # Another user from the same address is not locked by those five.
    assert (
        await env.client.post("/api/auth/login", json={"user": "zhang", "password": PASSWORD})
    ).status_code == 200
    env.clock.t += 301
    assert (
        await env.client.post("/api/auth/login", json={"user": "wang", "password": PASSWORD})
    ).status_code == 200


async def test_failed_logins_are_rate_limited_per_address(env: Env) -> None:
    for i in range(20):
        await env.client.post("/api/auth/login", json={"user": f"guess{i}", "password": "wrong-wrong"})
    r = await env.client.post("/api/auth/login", json={"user": "zhang", "password": PASSWORD})
    assert r.status_code == 429


async def test_logout_revokes_the_token(env: Env) -> None:
    token = await env.login("zhang")
    assert (await env.client.post("/api/agents/1001/login", headers=env.bearer(token))).status_code == 200
    assert (await env.client.post("/api/auth/logout", headers=env.bearer(token))).status_code == 200
    assert (await env.client.post("/api/agents/1001/pause", headers=env.bearer(token))).status_code == 401
    # Also after a reload from the store (the revocation was written there).
    await env.book.refresh()
    assert env.book.principal(token) is None


async def test_disabled_user_loses_its_session_at_the_next_refresh(env: Env) -> None:
    token = await env.login("zhang")
    await set_disabled(env.engine, "zhang")
    await env.book.refresh()
    assert (await env.client.get("/api/auth/me", headers=env.bearer(token))).status_code == 401
    r = await env.client.post("/api/auth/login", json={"user": "zhang", "password": PASSWORD})
    assert r.status_code == 401


async def test_agent_acts_on_itself_only(env: Env) -> None:
    token = await env.login("zhang")
    h = env.bearer(token)
    assert (await env.client.post("/api/agents/1001/login", headers=h)).status_code == 200
    r = await env.client.post("/api/agents/1001/pause", headers=h, json={"reason": "lunch"})
    assert r.status_code == 200 and r.json()["agent"]["state"] == "paused"
    env.service.submit(ev.AgentLoggedIn("1002"))
    r = await env.client.post("/api/agents/1002/pause", headers=h, json={"reason": "lunch"})
    assert r.status_code == 403 and "may not act on agent 1002" in r.json()["error"]
    assert env.service.router.agents["1002"].state == "ready"
    # Nor the centre's configuration.
    assert (await env.client.patch("/api/queues/billing", headers=h, json={"priority": 3})).status_code == 403
    assert (await env.client.post("/api/config/reload", headers=h)).status_code == 403


async def test_supervisor_scope_by_pool_and_by_queue(env: Env) -> None:
    for aid in ("1001", "1002"):
        env.service.submit(ev.AgentLoggedIn(aid))
    north = env.bearer(await env.login("north"))
    assert (await env.client.post("/api/agents/1001/pause", headers=north)).status_code == 200
    assert (await env.client.post("/api/agents/1002/pause", headers=north)).status_code == 403
    sales = env.bearer(await env.login("sales_sup"))
    assert (
        await env.client.post("/api/agents/1002/unpause", headers=sales)
    ).status_code == 200  # serves sales
    assert (
        await env.client.post("/api/agents/1001/unpause", headers=sales)
    ).status_code == 403  # billing only
    assert (
        await env.client.patch("/api/queues/sales", headers=sales, json={"priority": 2})
    ).status_code == 200
    assert (
        await env.client.patch("/api/queues/billing", headers=sales, json={"priority": 2})
    ).status_code == 403
    env.service.submit(ev.AgentPaused("1001"))
    env.service.submit(ev.AgentPaused("1002"))
    env.service.submit(ev.InteractionArrived("c1", "billing", caller="13800138000"))
    r = await env.client.post("/api/interactions/c1/move", headers=sales, json={"queue": "sales"})
    assert r.status_code == 403  # it leaves billing, outside the scope
    boss = env.bearer(await env.login("boss"))
    assert (
        await env.client.post("/api/interactions/c1/move", headers=boss, json={"queue": "sales"})
    ).status_code == 200
    # A supervisor is not an admin.
    assert (await env.client.post("/api/config/reload", headers=boss)).status_code == 403


async def test_admin_user_and_machine_token_act_everywhere(env: Env) -> None:
    root = env.bearer(await env.login("root"))
    assert (await env.client.post("/api/agents/1002/login", headers=root)).status_code == 200
    machine = env.bearer(TOKEN)
    assert (await env.client.post("/api/agents/1002/pause", headers=machine)).status_code == 200


async def test_viewer_reads_with_callers_hidden_and_cannot_act(env: Env) -> None:
    env.service.submit(ev.InteractionArrived("c1", "billing", caller="13800138000"))
    screen = env.bearer(await env.login("screen"))
    r = await env.client.get("/api/interactions", headers=screen)
    assert r.status_code == 200
    assert r.json()["interactions"][0]["caller"] == "***" and "13800138000" not in r.text
    root = env.bearer(await env.login("root"))
    assert (await env.client.get("/api/interactions", headers=root)).json()["interactions"][0][
        "caller"
    ] == "13800138000"
    assert (await env.client.post("/api/agents/1001/login", headers=screen)).status_code == 403


async def test_reads_need_a_login_beyond_loopback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CC_ROUTER_API_TOKEN", raising=False)
    e = await make_env(tmp_path, host="0.0.0.0")
    try:
        assert (await e.client.get("/api/queues")).status_code == 401
        assert (await e.client.get("/api/agents")).status_code == 401
        token = await e.login("screen")
        assert (await e.client.get(f"/api/queues?token={token}")).status_code == 200
    finally:
        await e.client.aclose()
        await e.engine.dispose()


async def test_reads_open_on_loopback(env: Env) -> None:
    assert (await env.client.get("/api/queues")).status_code == 200
