"""The omni component: schema, re-routing of unfinished tasks, then the status writer."""

from __future__ import annotations

import asyncio

import structlog
from alembic.script import ScriptDirectory
from sqlalchemy import text

from cc_router.omni.intake import TaskIntake
from cc_router.omni.task_store import TaskStore
from cc_router.store import migrate
from cc_router.store.migrations import alembic_config

log = structlog.get_logger("cc_router.omni")


class OmniComponent:
    name = "omni"

    def __init__(self, store: TaskStore, intake: TaskIntake, migrate_schema: bool = True) -> None:
        """`migrate_schema`: upgrade the database here (no store component in this process)."""
        self.store = store
        self.intake = intake
        self.migrate_schema = migrate_schema
        self.resumed = 0

    async def _wait_for_head(self) -> None:
        # Alembic's `op`/`context` are process globals: two upgrades running at once in one
        # process corrupt each other (seen on SQLite: tables without a version row). So
        # when the store component migrates, this one only waits for it to finish.
        head = ScriptDirectory.from_config(alembic_config()).get_current_head()
        delay = 0.05
        while True:
            try:
                async with self.store.engine.connect() as conn:
                    current = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
                if current == head:
                    return
            except Exception:  # no table yet, or the database is still away
                pass
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)

    async def run(self) -> None:
        if not self.intake.ready.is_set():
            if self.migrate_schema:
                await migrate(self.store.engine)
            else:
                await self._wait_for_head()
            self.resumed = await self.intake.resume()
            self.intake.ready.set()
        try:
            await self.store.run()
        finally:
            await self.store.close()
