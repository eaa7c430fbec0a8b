"""Control actions on a router that does not route (standby, starting) and on one whose
store cannot take the change: refused with why, and the leader named."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.http.conftest import Env


@dataclass
class _Lead:
    role: str
    leader_address: str = ""

    def may_send(self) -> bool:
        return self.role == "leader"


@pytest.mark.asyncio
async def test_standby_refuses_actions_naming_the_leader(env: Env) -> None:
    env.service.parts.leadership = _Lead("standby", "http://10.0.0.7:8080")
    r = await env.client.post("/api/agents/1001/login", headers=env.auth)
    assert r.status_code == 503
    assert r.json() == {
        "error": "this router is a standby; send control actions to the leader",
        "role": "standby",
        "leader": "http://10.0.0.7:8080",
    }
    assert env.service.router.agents["1001"].presence == "logged_out"
    # Without the token the answer is still 401: a standby is no way around authorisation.
    assert (await env.client.post("/api/agents/1001/login")).status_code == 401
    ready = await env.client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["role"] == "standby" and ready.json()["leader"] == "http://10.0.0.7:8080"


@pytest.mark.asyncio
async def test_a_leader_not_yet_routing_refuses_then_accepts(env: Env) -> None:
    env.service.parts.leadership = _Lead("leader", "http://me")
    r = await env.client.post("/api/agents/1001/login", headers=env.auth)
    assert r.status_code == 503 and r.json()["role"] == "starting"
    env.service.routing = True
    r = await env.client.post("/api/agents/1001/login", headers=env.auth)
    assert r.status_code == 200
    assert (await env.client.get("/readyz")).json()["role"] == "leader"


@pytest.mark.asyncio
async def test_a_change_the_store_cannot_take_is_not_acknowledged(env: Env) -> None:
    async def never(timeout_s: float) -> bool:
        return False

    assert (await env.client.post("/api/agents/1001/login", headers=env.auth)).status_code == 200
    env.service.durability.append(never)
    r = await env.client.post("/api/agents/1001/pause", json={"reason": "lunch"}, headers=env.auth)
    assert r.status_code == 503
    assert "not yet stored" in r.json()["error"]
