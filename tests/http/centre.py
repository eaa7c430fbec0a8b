"""A small centre for the HTTP, wallboard and `top` tests."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from cc_router.config import Config, loads_config
from cc_router.http import HttpComponent, attach_http
from cc_router.service import Service

CENTRE_YAML = """
centre: {name: 洛阳呼叫中心 test, timezone: Asia/Shanghai}
skills: [lang_zh, billing, sales, vip]
agents:
  - {id: "1001", name: 张伟, skills: {lang_zh: 5, billing: 3}}
  - {id: "1002", name: 王芳, skills: {lang_zh: 4, sales: 4}}
  - {id: "1003", name: 李娜, skills: {lang_zh: 2, billing: 2, sales: 1}}
queues:
  - {name: billing, requirement: "billing >= 2", service_level_s: 20}
  - {name: sales, requirement: "sales", priority: 1}
http: {port: 8080}
wallboard:
  thresholds: {waiting_warn: 2, waiting_alarm: 4}
"""

TOKEN = "s3cret-token"


def write_centre(tmp: Path, token: str | None = TOKEN, extra: str = "") -> Path:
    text = CENTRE_YAML + extra
    if token is not None:
        text = text.replace("http: {port: 8080}", f"http: {{port: 8080, token: {token}}}")
    path = tmp / "centre.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def load(path: Path) -> Config:
    return loads_config(path.read_text(encoding="utf-8"), source=str(path), env={})


class FakeClock:
    def __init__(self, t: float = 1_800_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def make_service(config: Config, clock: FakeClock | None = None) -> Service:
    return Service.from_config(config, clock=clock or FakeClock())


@contextlib.asynccontextmanager
async def running(
    service: Service, config_path: Path | None = None
) -> AsyncIterator[tuple[str, HttpComponent]]:
    """The service's HTTP component on a free port; yields (base URL, component)."""
    component = attach_http(service, config_path=str(config_path) if config_path else None, port=0)
    task = asyncio.create_task(component.run())
    try:
        await asyncio.wait_for(component.started.wait(), 10)
        yield f"http://127.0.0.1:{component.bound_port}", component
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
