"""The audit log's writes: a burst of actions is one INSERT, a row the store refuses is
kept and retried (the action's caller hears of it at once), and rows still unstored at
shutdown are logged, never dropped quietly."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from structlog.testing import capture_logs

from cc_router.console.audit import AuditAction, AuditEntry, AuditLog, AuditQuery, TargetKind
from cc_router.console.tables import AuditRow
from cc_router.store import migrate
from cc_router.store.engine import open_engine
from tests.databases import PG_URL, migrated_store, scratch_schema
from tests.store.test_engine_pools import kill_pooled

pytestmark = pytest.mark.asyncio


def login(n: int) -> AuditEntry:
    return AuditEntry(f"主管{n}", "supervisor", AuditAction.LOGIN, TargetKind.AGENT, f"ag{n}", None, {"n": n})


async def count(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(AuditRow))).scalar_one())


@pytest_asyncio.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    async with migrated_store(request.param, tmp_path, "audit") as eng:
        yield eng


async def test_a_burst_of_actions_is_a_few_inserts_with_every_row(engine: AsyncEngine) -> None:
    audit = AuditLog(engine)
    ids = await asyncio.gather(*(audit.record(login(n)) for n in range(300)))
    assert len(set(ids)) == 300
    assert audit.transactions <= 3  # the first row alone, then the rest in one or two
    assert await count(engine) == 300
    # Each caller got the id of its own row.
    rows = {r["target"]: r["id"] for r in await audit.rows(AuditQuery(limit=1000))}
    assert all(rows[f"ag{n}"] == ids[n] for n in range(300))


async def test_a_refused_row_fails_the_caller_and_is_stored_later(tmp_path: Path) -> None:
    # No audit table yet: the store refuses every row, as one that is down would.
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'late.db'}")
    try:
        audit = AuditLog(engine, wait_s=0.3, max_backoff_s=0.1)
        with capture_logs() as logs, pytest.raises(SQLAlchemyError, match="kept and retried"):
            await audit.record(login(1))
        assert audit.backlog == 1 and not audit.healthy
        assert any(e["event"] == "audit_write_failed" for e in logs)
        await migrate(engine)  # the store is back
        async with asyncio.timeout(10):
            while audit.backlog:
                await asyncio.sleep(0.05)
        assert await count(engine) == 1
        assert audit.healthy
        [row] = await audit.rows(AuditQuery())
        assert row["user"] == "主管1" and row["target"] == "ag1"
    finally:
        await engine.dispose()


async def test_rows_unstored_at_shutdown_are_logged(tmp_path: Path) -> None:
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'never.db'}")
    try:
        audit = AuditLog(engine, wait_s=0.2, max_backoff_s=0.1)
        with pytest.raises(SQLAlchemyError):
            await audit.record(login(7))
        writer = audit._writer
        assert writer is not None
        with capture_logs() as logs:
            writer.cancel()
            with pytest.raises(asyncio.CancelledError):
                await writer
        [line] = [e for e in logs if e["event"] == "audit_rows_not_stored"]
        assert line["log_level"] == "error" and line["count"] == 1
        assert "主管7 login agent:ag7" in line["rows"][0]
    finally:
        await engine.dispose()


@pytest.mark.postgres
async def test_a_dead_pooled_connection_costs_no_row() -> None:
    async with scratch_schema("ccr_audit") as schema:
        engine = open_engine(PG_URL, connect_args={"server_settings": {"search_path": schema}})
        try:
            await migrate(engine)
            audit = AuditLog(engine)
            await audit.record(login(1))
            await kill_pooled(engine)
            assert await audit.record(login(2)) > 0
            assert await count(engine) == 2
        finally:
            await engine.dispose()
