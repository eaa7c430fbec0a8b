"""The demo's agent login: created on the first start, usable again on the next."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from cc_router.accounts import users
from cc_router.accounts.passwords import verify
from cc_router.accounts.roles import Role
from cc_router.demo import DEMO_PASSWORD, DEMO_USER, ensure_demo_login

pytestmark = pytest.mark.asyncio


async def test_demo_login_is_created_then_reset(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}"
    await ensure_demo_login(url, "1001")
    engine = create_async_engine(url)
    try:
        demo = (await users.load_users(engine))[DEMO_USER]
        assert demo.agent_id == "1001" and demo.role is Role.AGENT
        assert verify(demo.password_hash, DEMO_PASSWORD)
        await users.set_password(engine, DEMO_USER, "changed-by-someone")
        await users.set_disabled(engine, DEMO_USER)
    finally:
        await engine.dispose()
    await ensure_demo_login(url, "1001")
    engine = create_async_engine(url)
    try:
        demo = (await users.load_users(engine))[DEMO_USER]
        assert not demo.disabled
        assert verify(demo.password_hash, DEMO_PASSWORD)
    finally:
        await engine.dispose()
