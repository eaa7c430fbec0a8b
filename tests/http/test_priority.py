"""Changing a waiting caller's priority over HTTP: supervisors only, applied at once."""

from __future__ import annotations

import pytest

from tests.http.conftest import Env, busy_floor

pytestmark = pytest.mark.asyncio


async def test_priority_moves_the_caller_up_at_once(env: Env) -> None:
    busy_floor(env)
    router = env.service.router
    assert (router.position("c3"), router.position("c2")) == (1, 2)
    r = await env.client.post("/api/interactions/c2/priority", headers=env.auth, json={"priority": 9})
    assert r.status_code == 200, r.text
    assert r.json() == {"ok": True, "priority": 9, "position": 1}
    assert router.interactions["c2"].priority == 9
    assert router.position("c3") == 2
    rows = (await env.client.get("/api/interactions")).json()["interactions"]
    assert [(w["id"], w["position"], w["priority"]) for w in rows] == [("c2", 1, 9), ("c3", 2, 5)]


async def test_priority_needs_the_supervisor_token(env: Env, tokenless: Env) -> None:
    busy_floor(env)
    url = "/api/interactions/c2/priority"
    assert (await env.client.post(url, json={"priority": 9})).status_code == 401
    r = await env.client.post(url, headers={"Authorization": "Bearer agent-guess"}, json={"priority": 9})
    assert r.status_code == 401
    assert env.service.router.interactions["c2"].priority == 0
    busy_floor(tokenless)
    r = await tokenless.client.post(url, headers={"Authorization": "Bearer x"}, json={"priority": 9})
    assert r.status_code == 403
    assert tokenless.service.router.interactions["c2"].priority == 0


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/api/interactions/zz/priority", b'{"priority": 1}', 404),
        ("/api/interactions/c1/priority", b'{"priority": 1}', 409),
        ("/api/interactions/c2/priority", b'{"priority": "high"}', 422),
        ("/api/interactions/c2/priority", b'{"priority": 5000}', 422),
        ("/api/interactions/c2/priority", b"{}", 422),
        ("/api/interactions/c2/priority", b"not json", 400),
    ],
)
async def test_bad_priority_requests(env: Env, path: str, body: bytes, status: int) -> None:
    busy_floor(env)
    r = await env.client.post(path, content=body, headers={**env.auth, "Content-Type": "application/json"})
    assert r.status_code == status, r.text
    assert r.json()["error"]
    assert env.service.router.interactions["c2"].priority == 0
