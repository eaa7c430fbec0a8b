"""A centre for the console tests: two voice queues a caller can move between, agents in
different queues (so a scoped supervisor has agents outside its scope), and users of every
role. The whole service as `cc-router run` builds it, on `tests.desk_stack`."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx

from cc_router.accounts.users import add_user
from cc_router.config import loads_config
from tests.desk_stack import PASSWORD, TOKEN, Stack, desk_stack

CENTRE = f"""
centre: {{name: 洛阳呼叫中心, timezone: Asia/Shanghai}}
skills: [lang_zh, billing, sales]
agents:
  - {{id: "1001", name: 张伟, skills: {{lang_zh: 5, billing: 3}}}}
  - {{id: "1002", name: 王芳, skills: {{lang_zh: 4, sales: 2}}}}
queues:
  - {{name: billing, requirement: "billing >= 2", wrapup_s: 5}}
  - {{name: sales, requirement: "sales >= 1", wrapup_s: 5}}
pause_reasons:
  - {{code: lunch, label: 午餐 lunch}}
  - {{code: coaching, label: 辅导 coaching}}
store: {{flush_interval_s: 0.1}}
http: {{token: {TOKEN}}}
"""

ADMIN = {"Authorization": f"Bearer {TOKEN}"}


@contextlib.asynccontextmanager
async def console_stack(tmp: Path, extra: str = "") -> AsyncIterator[Stack]:
    """Users: zhang / wang (agents 1001 / 1002), boss (supervisor, whole centre), sales_lead
    (supervisor of queue sales only), wall (viewer); all with `PASSWORD`."""
    async with desk_stack(tmp, config=loads_config(CENTRE + extra, env={})) as stack:
        await add_user(stack.engine, "sales_lead", "supervisor", PASSWORD, queues=frozenset({"sales"}))
        await add_user(stack.engine, "wall", "viewer", PASSWORD)
        book = stack.service.parts.accounts
        assert book is not None
        await book.refresh()
        yield stack


async def login(client: httpx.AsyncClient, user: str) -> dict[str, str]:
    r = await client.post("/api/auth/login", json={"user": user, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}
