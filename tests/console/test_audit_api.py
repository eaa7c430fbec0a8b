"""Supervisor actions through the control API: each one that changes something is in the
audit table with who, what, when and before -> after; refused ones change nothing and
leave no row."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from cc_router.core import events as ev
from tests.console.stack import ADMIN, console_stack, login

pytestmark = pytest.mark.asyncio


async def _audit(
    client: httpx.AsyncClient, headers: dict[str, str], **params: str
) -> list[dict[str, object]]:
    r = await client.get("/api/audit", headers=headers, params=params)
    assert r.status_code == 200, r.text
    rows: list[dict[str, object]] = r.json()["audit"]
    return rows


async def test_every_supervisor_action_is_audited(tmp_path: Path) -> None:
    async with console_stack(tmp_path) as stack, httpx.AsyncClient(base_url=stack.base) as client:
        router = stack.service.router
        boss = await login(client, "boss")
        assert (await client.post("/api/agents/1001/login", headers=boss)).status_code == 200

        r = await client.post("/api/agents/1001/pause", headers=boss, json={"reason": "coaching"})
        assert r.status_code == 200, r.text
        assert router.agents["1001"].state_reason == "coaching"
        r = await client.post("/api/agents/1001/unpause", headers=boss, json={"reason": "coaching done"})
        assert r.status_code == 200, r.text
        r = await client.put("/api/agents/1001/skills", headers=boss, json={"lang_zh": 5, "billing": 4})
        assert r.status_code == 200, r.text
        r = await client.post("/api/agents/1001/pause", headers=boss, json={"reason": "lunch"})

        stack.service.submit(ev.InteractionArrived("call-1", "billing", caller="13800138000"))
        r = await client.post("/api/interactions/call-1/priority", headers=boss, json={"priority": 7})
        assert r.status_code == 200, r.text
        r = await client.post("/api/interactions/call-1/move", headers=boss, json={"queue": "sales"})
        assert r.status_code == 200, r.text
        assert router.interactions["call-1"].queue.spec.name == "sales"

        steps = [{"after_s": 30, "requirement": "lang_zh >= 4", "priority_boost": 2}]
        r = await client.patch("/api/queues/sales", headers=ADMIN, json={"priority": 3, "steps": steps})
        assert r.status_code == 200, r.text
        r = await client.post("/api/agents/1001/logout", headers=boss, json={"reason": "end of shift"})
        assert r.status_code == 200, r.text

        rows = await _audit(client, boss)
        by_action = [(row["action"], row["user"]) for row in reversed(rows)]
        assert by_action == [
            ("login", "boss"),
            ("pause", "boss"),
            ("unpause", "boss"),
            ("skills", "boss"),
            ("pause", "boss"),
            ("priority", "boss"),
            ("move", "boss"),
            ("queue", "(http.token)"),
            ("logout", "boss"),
        ]
        first_pause = rows[-2]
        assert first_pause["target_kind"] == "agent" and first_pause["target"] == "1001"
        assert first_pause["before"] == {"state": "ready", "reason": None}
        assert first_pause["after"] == {"state": "paused", "reason": "coaching"}
        assert first_pause["reason"] == "coaching" and first_pause["role"] == "supervisor"
        assert rows[-1]["reason"] is None  # the login had none
        assert rows[-3]["reason"] == "coaching done"
        assert rows[-4]["before"] == {"skills": {"lang_zh": 5, "billing": 3}}
        assert rows[-4]["after"] == {"skills": {"lang_zh": 5, "billing": 4}}
        move = rows[2]
        assert move["before"] == {"queue": "billing", "priority": 7, "position": 1}
        assert move["after"] == {"queue": "sales", "priority": 7, "position": 1}
        assert rows[3]["before"] == {"queue": "billing", "priority": 0, "position": 1}
        queue = rows[1]
        assert queue["before"] == {"priority": 0, "steps": []}
        assert queue["after"] == {"priority": 3, "steps": steps}
        assert rows[0]["reason"] == "end of shift"
        assert all(isinstance(row["at"], float) for row in rows)

        # Filters.
        only = await _audit(client, boss, action="pause")
        assert [row["after"] for row in only] == [
            {"state": "paused", "reason": "lunch"},
            {"state": "paused", "reason": "coaching"},
        ]
        assert len(await _audit(client, boss, target_kind="interaction", target="call-1")) == 2
        assert len(await _audit(client, boss, limit="1")) == 1
        bad = await client.get("/api/audit", headers=boss, params={"limit": "x"})
        assert bad.status_code == 400


async def test_refused_actions_change_nothing_and_are_not_audited(tmp_path: Path) -> None:
    async with console_stack(tmp_path) as stack, httpx.AsyncClient(base_url=stack.base) as client:
        router = stack.service.router
        await client.post("/api/agents/1001/login", headers=ADMIN)
        await client.post("/api/agents/1002/login", headers=ADMIN)
        await client.post("/api/agents/1002/pause", headers=ADMIN, json={"reason": "lunch"})
        await client.post("/api/agents/1001/pause", headers=ADMIN, json={"reason": "lunch"})
        stack.service.submit(ev.InteractionArrived("call-2", "billing", caller="13900139000"))
        before = len(await _audit(client, ADMIN))

        zhang = await login(client, "zhang")
        wall = await login(client, "wall")
        sales_lead = await login(client, "sales_lead")
        refused = [
            # An agent: only its own agent, never another's, never a caller or a queue.
            (zhang, "POST", "/api/agents/1002/unpause", {}),
            (zhang, "POST", "/api/interactions/call-2/move", {"queue": "sales"}),
            (zhang, "POST", "/api/interactions/call-2/priority", {"priority": 5}),
            (zhang, "PATCH", "/api/queues/billing", {"priority": 9}),
            (zhang, "POST", "/api/config/reload", {}),
            # A viewer reads only.
            (wall, "POST", "/api/agents/1001/unpause", {}),
            (wall, "POST", "/api/interactions/call-2/move", {"queue": "sales"}),
            # A supervisor of sales: not agent 1001 (billing), not a caller in billing, not
            # the billing queue, not the configuration.
            (sales_lead, "POST", "/api/agents/1001/unpause", {}),
            (sales_lead, "PUT", "/api/agents/1001/skills", {"sales": 1}),
            (sales_lead, "POST", "/api/interactions/call-2/move", {"queue": "sales"}),
            (sales_lead, "POST", "/api/interactions/call-2/priority", {"priority": 5}),
            (sales_lead, "PATCH", "/api/queues/billing", {"priority": 9}),
            (sales_lead, "POST", "/api/config/reload", {}),
        ]
        for headers, method, path, body in refused:
            r = await client.request(method, path, headers=headers, json=body)
            assert r.status_code == 403, (path, r.status_code, r.text)
        r = await client.post("/api/agents/1001/unpause", json={})
        assert r.status_code == 401
        assert router.agents["1001"].state_reason == "lunch"
        assert router.interactions["call-2"].queue.spec.name == "billing"
        assert router.interactions["call-2"].priority == 0
        assert router.centre.queue("billing").priority == 0  # type: ignore[union-attr]

        # Allowed for the sales supervisor: its own agent and queue.
        r = await client.post("/api/agents/1002/unpause", headers=sales_lead, json={"reason": "back"})
        assert r.status_code == 200, r.text
        r = await client.patch("/api/queues/sales", headers=sales_lead, json={"priority": 2})
        assert r.status_code == 200, r.text

        # The audit itself: supervisors and admins read it, agents and viewers do not.
        for headers in (zhang, wall):
            assert (await client.get("/api/audit", headers=headers)).status_code == 403
        assert (await client.get("/api/audit")).status_code == 401
        rows = await _audit(client, sales_lead)
        assert len(rows) == before + 2
        assert [(r["action"], r["user"]) for r in rows[:2]] == [
            ("queue", "sales_lead"),
            ("unpause", "sales_lead"),
        ]
        assert {(r["action"], r["target"]) for r in rows[2:]} == {
            ("login", "1001"),
            ("login", "1002"),
            ("pause", "1001"),
            ("pause", "1002"),
        }


async def test_console_config_is_for_supervisors(tmp_path: Path) -> None:
    async with console_stack(tmp_path) as stack, httpx.AsyncClient(base_url=stack.base) as client:
        zhang = await login(client, "zhang")
        r = await client.get("/api/console/config", headers=zhang)
        assert r.status_code == 403 and "may not use the supervisor console" in r.json()["error"]
        sales_lead = await login(client, "sales_lead")
        r = await client.get("/api/console/config", headers=sales_lead)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["user"] == "sales_lead" and body["scope"] == {"queues": ["sales"], "pools": []}
        assert {q["name"]: q["may_act"] for q in body["queues"]} == {"billing": False, "sales": True}
        assert [p["code"] for p in body["pause_reasons"]] == ["lunch", "coaching"]
        assert body["skills"] == ["billing", "lang_zh", "sales"]
        page = await client.get("/console")
        assert page.status_code == 200 and "Supervisor console" in page.text
