"""An in-process service with HTTP attached, and an httpx client on its ASGI app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from cc_router.core import events as ev
from cc_router.http import HttpComponent, attach_http
from cc_router.service import Service
from tests.http.centre import TOKEN, FakeClock, load, make_service, write_centre


@dataclass
class Env:
    service: Service
    component: HttpComponent
    client: httpx.AsyncClient
    clock: FakeClock
    path: Path

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {TOKEN}"}


def _env(tmp_path: Path, token: str | None) -> tuple[Service, HttpComponent, FakeClock, Path]:
    path = write_centre(tmp_path, token=token)
    clock = FakeClock()
    service = make_service(load(path), clock)
    component = attach_http(service, config_path=str(path), port=0)
    return service, component, clock, path


@pytest_asyncio.fixture
async def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Env]:
    monkeypatch.delenv("CC_ROUTER_API_TOKEN", raising=False)
    service, component, clock, path = _env(tmp_path, TOKEN)
    transport = httpx.ASGITransport(app=component.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield Env(service, component, client, clock, path)


@pytest_asyncio.fixture
async def tokenless(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Env]:
    monkeypatch.delenv("CC_ROUTER_API_TOKEN", raising=False)
    service, component, clock, path = _env(tmp_path, None)
    transport = httpx.ASGITransport(app=component.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield Env(service, component, client, clock, path)


def busy_floor(env: Env) -> None:
    """1001 and 1002 logged in; c1 connected to 1001 after 5 s; c2, c3 waiting in billing."""
    s, clock = env.service, env.clock
    s.submit(ev.AgentLoggedIn("1001"))
    s.submit(ev.AgentLoggedIn("1002"))
    s.submit(ev.InteractionArrived("c1", "billing", caller="13800138000"))
    clock.t += 5
    s.submit(ev.OfferAccepted("c1", "1001"))
    s.submit(ev.InteractionArrived("c2", "billing", caller="13900139000"))
    clock.t += 2
    s.submit(ev.InteractionArrived("c3", "billing", caller="13700137000", priority=5))
    clock.t += 3
