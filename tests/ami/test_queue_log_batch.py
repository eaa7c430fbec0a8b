"""queue_log lines wait for the service's next batch of observers instead of going out on
the routing path of each event; none is lost while the node is disconnected."""

from __future__ import annotations

import asyncio

import pytest

from cc_router.adapters.ami import supervisor as sup

from .conftest import Harness

pytestmark = pytest.mark.asyncio


async def test_lines_wait_for_the_batch_then_go_out_in_order(harness: Harness) -> None:
    harness.service.hold_observers()
    harness.login("1001", "1002")
    assert harness.outbox("QueueLog") == []
    assert len(harness.node.supervisor.log_lines) == 2  # one per login, built when written
    harness.service.flush_observers()
    lines = harness.outbox("QueueLog")
    assert [(a["Event"], a["Interface"]) for a in lines] == [("ADDMEMBER", "1001"), ("ADDMEMBER", "1002")]
    assert harness.node.supervisor.log_lines == []


async def test_a_line_without_a_batch_goes_out_after_the_longest_delay(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sup, "LOG_LINES_MAX_DELAY_S", 0.05)
    harness.node.enqueue({"Action": "QueueLog", "Queue": "support", "Event": "CUSTOM"})
    assert harness.outbox("QueueLog") == []
    await asyncio.sleep(0.12)
    assert [a["Event"] for a in harness.outbox("QueueLog")] == ["CUSTOM"]


async def test_lines_gathered_while_disconnected_join_the_outbox(harness: Harness) -> None:
    harness.service.hold_observers()
    harness.login("1001")
    harness.conn.connected = False
    harness.service.flush_observers()
    assert len(harness.outbox("QueueLog")) == 1  # held, not written
    assert all(a.get("Action") != "QueueLog" for a in harness.conn.sent)
    held = [a for a, _ in harness.node.supervisor.outbox]
    assert [a["Event"] for a in held if a["Action"] == "QueueLog"] == ["ADDMEMBER"]


async def test_a_line_that_cannot_be_built_is_lost_alone(harness: Harness) -> None:
    def broken() -> list[dict[str, str | list[str]]]:
        raise ValueError("no such queue")

    harness.service.hold_observers()
    harness.login("1001")
    harness.node.supervisor.log_later(broken)
    harness.login("1002")
    harness.service.flush_observers()
    lines = harness.outbox("QueueLog")
    assert [(a["Event"], a["Interface"]) for a in lines] == [("ADDMEMBER", "1001"), ("ADDMEMBER", "1002")]
