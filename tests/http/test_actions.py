"""Supervisor actions: token rules, core events, 4xx (never 500) for bad input, reload."""

from __future__ import annotations

import pytest

from cc_router.core import events as ev
from tests.http.conftest import Env, busy_floor

pytestmark = pytest.mark.asyncio


async def test_actions_refused_without_configured_token(tokenless: Env) -> None:
    r = await tokenless.client.post("/api/agents/1001/login", headers={"Authorization": "Bearer x"})
    assert r.status_code == 403
    assert "CC_ROUTER_API_TOKEN" in r.json()["error"] and "http.token" in r.json()["error"]
    assert tokenless.service.router.agents["1001"].state == "logged_out"


async def test_env_token_enables_actions(tokenless: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CC_ROUTER_API_TOKEN", "from-env")
    r = await tokenless.client.post("/api/agents/1001/login", headers={"Authorization": "Bearer from-env"})
    assert r.status_code == 200


async def test_missing_and_wrong_token(env: Env) -> None:
    assert (await env.client.post("/api/agents/1001/login")).status_code == 401
    r = await env.client.post("/api/agents/1001/login", headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert env.service.router.agents["1001"].state == "logged_out"


async def test_login_pause_unpause_logout(env: Env) -> None:
    c, auth = env.client, env.auth
    r = await c.post("/api/agents/1001/login", headers=auth)
    assert r.status_code == 200 and r.json()["agent"]["state"] == "ready"
    r = await c.post("/api/agents/1001/pause", headers=auth, json={"reason": "午饭 lunch", "max_s": 600})
    assert r.status_code == 200
    assert r.json()["agent"]["state"] == "paused" and r.json()["agent"]["reason"] == "午饭 lunch"
    r = await c.post("/api/agents/1001/pause", headers=auth)  # empty body: default reason
    assert r.status_code == 200 and r.json()["agent"]["reason"] == "break"
    assert (await c.post("/api/agents/1001/unpause", headers=auth)).json()["agent"]["state"] == "ready"
    assert (await c.post("/api/agents/1001/logout", headers=auth)).json()["agent"]["state"] == "logged_out"
    # Pausing a logged-out agent is the core's call: 409 with its reason.
    r = await c.post("/api/agents/1001/pause", headers=auth, json={"reason": "x"})
    assert r.status_code == 409 and "logged out" in r.json()["error"]
    assert (await c.post("/api/agents/nobody/login", headers=auth)).status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/api/agents/1001/pause", b"{not json"),
        ("post", "/api/agents/1001/pause", b'{"reason": ""}'),
        ("post", "/api/agents/1001/pause", b'{"reason": "x", "max_s": -1}'),
        ("post", "/api/agents/1001/pause", b'{"reason": "x", "extra": 1}'),
        ("post", "/api/agents/1001/pause", b"[1, 2]"),
        ("put", "/api/agents/1001/skills", b'{"billing": 11}'),
        ("put", "/api/agents/1001/skills", b'{"billing": "3"}'),
        ("put", "/api/agents/1001/skills", b'{"cooking": 3}'),
        ("put", "/api/agents/1001/skills", b'"billing"'),
        ("put", "/api/agents/1001/skills", b""),
        ("patch", "/api/queues/billing", b"{}"),
        ("patch", "/api/queues/billing", b'{"priority": "high"}'),
        ("patch", "/api/queues/billing", b'{"steps": [{"after_s": 10, "requirement": "cooking"}]}'),
        ("patch", "/api/queues/billing", b'{"steps": [{"after_s": 10, "requirement": "billing >="}]}'),
        (
            "patch",
            "/api/queues/billing",
            b'{"steps": [{"after_s": 20, "requirement": "sales"}, {"after_s": 10, "requirement": "vip"}]}',
        ),
        ("post", "/api/interactions/c2/move", b'{"queue": "nope"}'),
        ("post", "/api/interactions/c2/move", b'{"q": "sales"}'),
        ("post", "/api/interactions/c2/move", b"\xff\xfe"),
    ],
)
async def test_bad_payloads_are_4xx(env: Env, method: str, path: str, body: bytes) -> None:
    busy_floor(env)
    before = env.service.router.centre
    r = await env.client.request(
        method, path, content=body, headers={**env.auth, "Content-Type": "application/json"}
    )
    assert 400 <= r.status_code < 500, r.text
    assert r.json()["error"]
    assert env.service.router.centre is before


async def test_skills_change_moves_agent_between_queues(env: Env) -> None:
    busy_floor(env)
    r = await env.client.put("/api/agents/1002/skills", headers=env.auth, json={"billing": 5, "lang_zh": 3})
    assert r.status_code == 200
    assert r.json()["agent"]["queues"] == ["billing"]
    # 1002 was ready: the highest-priority billing caller is offered to it at once.
    assert env.service.router.agents["1002"].state == "reserved"
    billing = (await env.client.get("/api/queues/billing")).json()
    assert billing["agents"]["reserved"] == 1 and billing["waiting"] == 1


async def test_queue_patch_priority_and_steps(env: Env) -> None:
    r = await env.client.patch(
        "/api/queues/billing",
        headers=env.auth,
        json={"priority": 7, "steps": [{"after_s": 30, "requirement": "lang_zh", "priority_boost": 1}]},
    )
    assert r.status_code == 200, r.text
    spec = env.service.router.centre.queue("billing")
    assert spec is not None and spec.priority == 7
    assert spec.steps[0].requirement == "lang_zh" and spec.steps[0].after_s == 30
    assert r.json()["queue"]["priority"] == 7
    assert (
        await env.client.patch("/api/queues/nope", headers=env.auth, json={"priority": 1})
    ).status_code == 404


async def test_move_waiting_interaction(env: Env) -> None:
    busy_floor(env)
    r = await env.client.post("/api/interactions/c2/move", headers=env.auth, json={"queue": "sales"})
    assert r.status_code == 200
    it = env.service.router.interactions["c2"]
    assert it.queue.name == "sales"
    r = await env.client.post("/api/interactions/c1/move", headers=env.auth, json={"queue": "sales"})
    assert r.status_code == 409 and "not waiting" in r.json()["error"]
    assert (
        await env.client.post("/api/interactions/zz/move", headers=env.auth, json={"queue": "sales"})
    ).status_code == 404


async def test_reload_applies_a_good_file(env: Env) -> None:
    busy_floor(env)
    text = env.path.read_text(encoding="utf-8")
    env.path.write_text(
        text.replace("queues:\n", "queues:\n  - {name: vip, requirement: vip}\n"), encoding="utf-8"
    )
    r = await env.client.post("/api/config/reload", headers=env.auth)
    assert r.status_code == 200, r.text
    assert "3 queues" in r.json()["summary"]
    assert "vip" in env.service.router.queues
    assert [q["name"] for q in (await env.client.get("/api/queues")).json()["queues"]] == [
        "vip",
        "billing",
        "sales",
    ]
    # Waiting callers and the connected call survive the rebuild.
    assert env.service.router.queues["billing"].waiting == 2
    assert env.service.router.agents["1001"].state == "busy"
    billing = (await env.client.get("/api/queues/billing")).json()
    assert billing["agents"]["busy"] == 1


async def test_reload_with_broken_file_is_422_and_changes_nothing(env: Env) -> None:
    busy_floor(env)
    before_centre, before_config = env.service.router.centre, env.service.config
    text = env.path.read_text(encoding="utf-8")
    env.path.write_text(
        text.replace('requirement: "sales"', 'requirement: "cooking"').replace(
            "priority: 1}", "priority: 1, oops: 2}"
        ),
        encoding="utf-8",
    )
    r = await env.client.post("/api/config/reload", headers=env.auth)
    assert r.status_code == 422
    issues = r.json()["issues"]
    assert any("oops" in i for i in issues), issues
    assert all(str(env.path) in i for i in issues)
    assert env.service.router.centre is before_centre and env.service.config is before_config
    env.path.write_text("queues: [", encoding="utf-8")
    r = await env.client.post("/api/config/reload", headers=env.auth)
    assert r.status_code == 422 and "YAML" in r.json()["issues"][0]
    assert env.service.router.centre is before_centre
    env.service.submit(ev.Tick())  # still routing
