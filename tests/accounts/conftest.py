"""A service with HTTP and accounts on a migrated SQLite store, plus one user per role."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from cc_router.accounts.book import AccountBook
from cc_router.accounts.users import add_user
from cc_router.config import loads_config
from cc_router.http import attach_http
from cc_router.service import Service
from cc_router.store import migrate
from tests.http.centre import CENTRE_YAML, TOKEN, FakeClock

PASSWORD = "correct horse 1"
POOLS = CENTRE_YAML.replace(
    "agents:\n",
    "seat_pools: [{name: north}, {name: south}]\nagents:\n",
).replace("skills: {lang_zh: 5, billing: 3}}", "pool: north, skills: {lang_zh: 5, billing: 3}}")
POOLS = POOLS.replace("name: 王芳, skills", "name: 王芳, pool: south, skills").replace(
    "name: 李娜, skills", "name: 李娜, pool: south, skills"
)
USERS = {
    "zhang": {"role": "agent", "agent_id": "1001"},
    "wang": {"role": "agent", "agent_id": "1002"},
    "boss": {"role": "supervisor"},
    "north": {"role": "supervisor", "pools": frozenset({"north"})},
    "sales_sup": {"role": "supervisor", "queues": frozenset({"sales"})},
    "root": {"role": "admin"},
    "screen": {"role": "viewer"},
}


@dataclass
class Env:
    service: Service
    book: AccountBook
    client: httpx.AsyncClient
    clock: FakeClock
    engine: AsyncEngine

    async def login(self, user: str, password: str = PASSWORD) -> str:
        r = await self.client.post("/api/auth/login", json={"user": user, "password": password})
        assert r.status_code == 200, r.text
        token: str = r.json()["token"]
        return token

    @staticmethod
    def bearer(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}


async def make_env(tmp_path: Path, *, host: str = "127.0.0.1", token: str | None = TOKEN) -> Env:
    text = POOLS.replace(
        "http: {port: 8080}",
        f"http: {{port: 8080, host: '{host}'" + (f", token: {token}}}" if token else "}"),
    )
    config = loads_config(text, env={})
    clock = FakeClock()
    service = Service.from_config(config, clock=clock)
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'acc.db'}")
    await migrate(engine)
    for name, spec in USERS.items():
        await add_user(
            engine, name, str(spec["role"]), PASSWORD, **{k: v for k, v in spec.items() if k != "role"}
        )  # type: ignore[arg-type]
    from cc_router.accounts.attach import install, routes

    book = install(service, AccountBook(engine, config.accounts, clock=clock))
    component = attach_http(service, port=0, routes=routes(book))
    await book.refresh()
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=component.app), base_url="http://test")
    return Env(service, book, client, clock, engine)


@pytest_asyncio.fixture
async def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Env]:
    monkeypatch.delenv("CC_ROUTER_API_TOKEN", raising=False)
    e = await make_env(tmp_path)
    yield e
    await e.client.aclose()
    await e.engine.dispose()
