"""A restarted router's restored agent states and the agent_states intervals: a state read
back equal to the agent's open interval continues it, one that differs closes it."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from cc_router.core.commands import AgentStateChanged
from cc_router.store import StoreWriter
from cc_router.store.tables import agent_states
from tests.store.factories import T0, state


def restored(agent: str, st: str, at: float, reason: str = "") -> AgentStateChanged:
    # What the core says for a stored session put back: from logged_out, at the restart.
    return AgentStateChanged(agent, st, reason, at, "logged_out", 0.0, restored=True)  # type: ignore[arg-type]


async def _rows(engine: AsyncEngine) -> list[tuple[str, str, str, float, float | None]]:
    def s(t: datetime | None) -> float | None:
        return None if t is None else round(t.timestamp() - T0, 3)

    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(
                    agent_states.c.agent_id,
                    agent_states.c.state,
                    agent_states.c.reason,
                    agent_states.c.started_at,
                    agent_states.c.ended_at,
                ).order_by(agent_states.c.agent_id, agent_states.c.started_at)
            )
        ).all()
    return [(a, st, r, s(b) or 0.0, s(e)) for a, st, r, b, e in rows]


@pytest.mark.asyncio
async def test_a_restored_state_continues_its_open_interval(engine: AsyncEngine) -> None:
    first = StoreWriter("unused://", engine=engine)
    first.submit([state("a1", "ready", T0, "logged_out", 0.0)], T0)
    first.submit([state("a1", "paused", T0 + 10, "ready", T0, "break")], T0 + 10)
    first.submit([state("a2", "ready", T0 + 20, "logged_out", 0.0)], T0 + 20)
    await first.flush()

    # A restart at T0+100: both agents are read back where they were; a new writer learns
    # the open intervals from the database.
    again = StoreWriter("unused://", engine=engine)
    again.submit([restored("a1", "paused", T0 + 100, "break"), restored("a2", "ready", T0 + 100)], T0 + 100)
    await again.flush()
    assert again.rows_written == 0
    assert await _rows(engine) == [
        ("a1", "ready", "", 0.0, 10.0),
        ("a1", "paused", "break", 10.0, None),
        ("a2", "ready", "", 20.0, None),
    ]
    # The next real change closes the interval that went on through the restart.
    again.submit([state("a1", "ready", T0 + 200, "paused", T0 + 10)], T0 + 200)
    await again.flush()
    assert (await _rows(engine))[1] == ("a1", "paused", "break", 10.0, 200.0)


@pytest.mark.asyncio
async def test_a_restored_state_unlike_the_open_interval_closes_it(engine: AsyncEngine) -> None:
    first = StoreWriter("unused://", engine=engine)
    first.submit([state("a1", "ready", T0, "logged_out", 0.0)], T0)
    first.submit([state("a1", "busy", T0 + 10, "ready", T0)], T0 + 10)
    first.submit([state("a2", "paused", T0 + 20, "logged_out", 0.0, "lunch")], T0 + 20)
    await first.flush()
    # a1's call ended while no router ran; a2 is read back with another reason; a3 has
    # no interval at all (sessions written by hand): each gets a new one from the restart.
    again = StoreWriter("unused://", engine=engine)
    again.submit(
        [
            restored("a1", "ready", T0 + 100),
            restored("a2", "paused", T0 + 100, "break"),
            restored("a3", "ready", T0 + 100),
        ],
        T0 + 100,
    )
    await again.flush()
    assert await _rows(engine) == [
        ("a1", "ready", "", 0.0, 10.0),
        ("a1", "busy", "", 10.0, 100.0),
        ("a1", "ready", "", 100.0, None),
        ("a2", "paused", "lunch", 20.0, 100.0),
        ("a2", "paused", "break", 100.0, None),
        ("a3", "ready", "", 100.0, None),
    ]
