"""The pure parts of the live router benchmark (the run itself needs the sandbox)."""

from __future__ import annotations

import os

from cc_router.bench import live_router as lr


def test_innermost_known_frame_names_the_part() -> None:
    root = "run (cc_router/cli/run_cmds.py:76);uv_run (libuv/src/unix/core.c:1)"
    data = "data_received (cc_router/adapters/ami/protocol.py:150)"
    submit = "submit (cc_router/service.py:130)"
    core = "handle (cc_router/core/router.py:40)"
    decision = "__call__ (cc_router/logs/decisions.py:40)"
    structlog = "_proxy_to_logger (structlog/_base.py:200)"
    root = root.split(";")
    assert lr.part_of([*root, data, submit, core]) == "routing core"
    assert lr.part_of([*root, data, submit, decision, structlog]) == "decision log and logging"
    assert lr.part_of([*root, data]) == "AMI read and parse"
    assert lr.part_of([*root, data, submit]) == "service (submit, sinks, ticker)"
    assert lr.part_of([*root, "uv__io_poll (libuv/src/unix/epoll.c:1)"]).startswith("event loop")
    assert lr.part_of(["_start (libc.so.6)"]) == "other (interpreter, threads)"


def test_profile_parts_sums_the_event_loops_stacks() -> None:
    loop = "run (uvloop/__init__.py:92);run_until_complete (loop.c:35410);uv_run (core.c:1)"
    lines = [
        f"{loop};handle (cc_router/core/router.py:40) 30",
        f"{loop};uv__io_poll (libuv/src/unix/epoll.c:1) 10",
        f"{loop};handle (cc_router/core/router.py:40) 10",
        "_connection_worker_thread (aiosqlite/core.py:59) 500",
        "garbage",
    ]
    parts = lr.profile_parts(lines)
    assert parts == {
        "routing core": 0.8,
        "event loop (uvloop C, no Python frame of ours)": 0.2,
        "samples": 50.0,
    }


def test_leg_tap_pairs_enqueue_with_the_offered_agents_next_leg() -> None:
    tap = lr.LegTap()
    tap("UserEvent", b"Event: UserEvent\r\nUniqueid: 17.1\r\nUserEvent: CCREnqueue\r\nTimestamp: 100.5")
    tap("UserEvent", b"Event: UserEvent\r\nUniqueid: 17.2\r\nUserEvent: Other\r\nTimestamp: 100.6")
    leg = "Event: Newchannel\r\nChannel: Local/{}@ccr-sim-agent-0000{};{}\r\nTimestamp: {}"
    for agent, n, side, ts in (
        ("a1", 1, 1, 99.0),
        ("a1", 2, 2, 100.502),
        ("a1", 3, 1, 100.503),
        ("a1", 4, 1, 101),
    ):
        tap("Newchannel", leg.format(agent, n, side, ts).encode())
    assert tap.enqueued == {"17.1": 100.5}
    waits = tap.waits_ms([("17.1", "a1"), ("17.1", "a1"), ("17.2", "a1"), ("17.9", "a2")])
    assert list(waits) == ["17.1"] and abs(waits["17.1"] - 3.0) < 1e-6


def test_offers_from_the_decision_log() -> None:
    lines = [
        '{"event":"offer","interaction_id":"17.1","agent_id":"a1","offer_id":"o1"}',
        '{"event":"queued","interaction_id":"17.2"}',
        'not json, mentions "offer"',
        '{"event":"offer_cancelled","interaction_id":"17.1","agent_id":"a1"}',
    ]
    assert lr.offers_logged(lines) == [("17.1", "a1")]


def test_thread_cpu_of_this_process_names_the_main_thread() -> None:
    cpu = lr.thread_cpu_s(os.getpid())
    assert "event loop" in cpu
    assert all(v >= 0 for v in cpu.values())
