"""Listen / whisper / barge requests without Asterisk: who may ask, and the clear refusals
before any phone rings. (Joining a real call: tests/e2e/test_console_live.py.)"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.console.stack import ADMIN, console_stack, login

pytestmark = pytest.mark.asyncio


async def test_monitor_refusals(tmp_path: Path) -> None:
    async with (
        console_stack(tmp_path, 'console: {phones: {boss: "PJSIP/sup-1"}}\n') as stack,
        httpx.AsyncClient(base_url=stack.base) as client,
    ):
        await client.post("/api/agents/1001/login", headers=ADMIN)
        zhang, wall = await login(client, "zhang"), await login(client, "wall")
        sales_lead, boss = await login(client, "sales_lead"), await login(client, "boss")
        path = "/api/agents/1001/monitor"
        for who in (zhang, wall):
            assert (await client.post(path, headers=who, json={"mode": "listen"})).status_code == 403
            assert (await client.get("/api/monitors", headers=who)).status_code == 403
        r = await client.post(path, headers=sales_lead, json={"mode": "listen"})
        assert r.status_code == 403 and "may not act on agent 1001" in r.json()["error"]
        assert (await client.post(path, json={"mode": "listen"})).status_code == 401

        r = await client.post(path, headers=ADMIN, json={"mode": "listen"})
        assert r.status_code == 409 and "no phone is configured for (http.token)" in r.json()["error"]
        r = await client.post(path, headers=boss, json={"mode": "listen"})
        assert r.status_code == 409 and r.json()["error"] == "agent 1001 is not on a call"
        r = await client.post(path, headers=boss, json={"mode": "shout"})
        assert r.status_code == 422
        assert (await client.post("/api/agents/nobody/monitor", headers=boss, json={})).status_code == 404
        assert (await client.delete(path, headers=boss)).status_code == 404
        r = await client.get("/api/monitors", headers=boss)
        assert r.status_code == 200 and r.json() == {"monitors": []}
        audit = (await client.get("/api/audit", headers=boss)).json()["audit"]
        assert [a["action"] for a in audit] == ["login"]  # nothing started, nothing recorded
