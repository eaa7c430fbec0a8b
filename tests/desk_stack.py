"""The whole service as `cc-router run` builds it (store, HTTP, accounts, omnichannel,
desktop) on a SQLite file and a free port, with users for the desktop tests."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from cc_router.accounts.users import add_user
from cc_router.config import Config, loads_config
from cc_router.service import Service
from cc_router.store import migrate
from cc_router.wiring import Built, build

TOKEN = "desk-admin-token"
PASSWORD = "agent-pass-1"
CENTRE = (
    """
centre: {name: 洛阳呼叫中心, timezone: Asia/Shanghai}
skills: [lang_zh, billing]
profiles:
  blended: {capacity: {voice: 1, chat: 3}, blocks: {voice: [chat, email, sms, fax], chat: []}}
agents:
  - {id: "1001", name: 张伟, profile: blended, skills: {lang_zh: 5, billing: 3}}
  - {id: "1002", name: 王芳, profile: blended, skills: {lang_zh: 4}}
queues:
  - {name: billing, requirement: "billing >= 2", wrapup_s: 20}
  - {name: chat_zh, channel: chat, requirement: lang_zh, ring_timeout_s: 60, wrapup_s: 30}
pause_reasons:
  - {code: lunch, label: 午餐 lunch, max_s: 3600, on_max: flag}
  - {code: training, label: 培训 training}
dispositions:
  chat_zh:
    required: true
    codes: [{code: resolved, label: 已解决 resolved}, {code: callback, label: 需回访 callback}]
  billing:
    codes: [{code: paid, label: 已缴费 paid}, {code: complaint, label: 投诉 complaint}]
store: {flush_interval_s: 0.1}
"""
    + f"http: {{token: {TOKEN}}}\n"
)


@dataclass
class Stack:
    service: Service
    base: str
    engine: AsyncEngine
    url: str
    built: Built


@contextlib.asynccontextmanager
async def desk_stack(tmp: Path, extra: str = "", config: Config | None = None) -> AsyncIterator[Stack]:
    url = f"sqlite+aiosqlite:///{tmp / 'desk.db'}"
    await migrate(url)
    engine = create_async_engine(url)
    for name, aid in (("zhang", "1001"), ("wang", "1002")):
        await add_user(engine, name, "agent", PASSWORD, agent_id=aid)
    await add_user(engine, "boss", "supervisor", PASSWORD)
    config = config or loads_config(CENTRE + extra, env={})
    built = build(config, store_url_override=url)
    service, http = built.service, built.http
    http.port = 0
    for node in built.nodes:
        # The Asterisk sandbox is shared: never hang up other tests' callers.
        node.exit_unknown_numbers = False
    task = asyncio.create_task(service.run())
    try:
        await asyncio.wait_for(http.started.wait(), 15)
        await asyncio.wait_for(built.accounts.loaded.wait(), 15)
        await asyncio.wait_for(built.omni.intake.ready.wait(), 15)
        yield Stack(service, f"http://127.0.0.1:{http.bound_port}", engine, url, built)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await engine.dispose()


async def wait_until(pred: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.05)
