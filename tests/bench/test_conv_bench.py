"""The conversations benchmark's machinery on a few chats with a short think time: every
chat finishes, every message is delivered both ways and stored, and nothing accepted is
missing from SQL afterwards (no speed asserted: figures belong to `python -m
cc_router.bench conv`)."""

from __future__ import annotations

import pytest

from cc_router.bench.conv_bench import chat_row

pytestmark = [pytest.mark.asyncio, pytest.mark.postgres]


async def test_a_few_chats_finish_and_everything_is_stored() -> None:
    chats, rounds = 24, 3
    row = await chat_row(chats, rounds=rounds, think_s=0.3)
    assert row["store"] == "postgresql"
    assert row["errors"] == {}
    assert row["chats_finished"] == chats
    assert row["to_customer_n"] == chats * rounds  # every agent message reached its customer
    assert row["to_agent_n"] == chats * (rounds - 1)  # and every answer its agent
    # Stored: the first text, the agent's messages and the customer's answers.
    assert row["stored_messages"] == chats * (1 + rounds + rounds - 1)
    assert row["stored_tasks"] == chats and row["stored_tasks_unfinished"] == 0
    assert row["agent_logins"] == row["agents"] and row["stored_audit_rows"] == row["agents"]
    assert row["core_events"] > 0 and row["core_p99_us"] is not None
    assert row["router_cpu_ms_per_chat"] > 0
