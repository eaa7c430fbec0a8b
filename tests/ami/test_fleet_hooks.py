"""A node added by a reload is every part's, not only the router's: SMS and fax from it,
replies through it, callbacks and announcements on it, recording, listening and desktop
dispositions with it; drained away by the next reload, the parts let it go.

The whole service as `cc-router run` builds it (wiring.build), with a scripted AMI
server as node 2 (node 1 is never connected: only the reloaded node matters here)."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import pytest

from cc_router.adapters.ami.protocol import encode_action
from cc_router.config import Config, loads_config
from cc_router.console.monitor import Monitors
from cc_router.console.recording import Recorder
from cc_router.core import events as ev
from cc_router.desk.dispositions import DispositionWriter
from cc_router.omni.campaigns import InboundMessage
from cc_router.service import supervise
from cc_router.testing.live import wait_until
from cc_router.wiring import Built, build
from tests.ami.fake_ami import FakeAmi

pytestmark = pytest.mark.asyncio

BODY = """
skills: [zh]
agents:
  - {id: a1, pool: p1, skills: {zh: 5}}
queues:
  - {name: q, requirement: zh}
numbers:
  "30086": {queue: q}
"""


def config(tmp_path: Path, nodes: dict[str, int]) -> Config:
    lines = ["asterisk:"]
    lines += [
        f"  - {{name: {n}, host: 127.0.0.1, port: {p}, secret: x, ping_interval_s: 5}}"
        for n, p in nodes.items()
    ]
    lines += ["seat_pools:"] + [f"  - {{name: p{i + 1}, node: {n}}}" for i, n in enumerate(nodes)]
    if len(nodes) > 1:
        lines += ["trunks:", f"  - {{nodes: [{', '.join(nodes)}]}}"]
    lines += [
        "store:",
        f'  url: "sqlite+aiosqlite:///{tmp_path / "fleet.db"}"',
    ]
    return loads_config(BODY + "\n".join(lines) + "\n", env={})


def reload(built: Built, new: Config) -> None:
    built.service.submit(ev.CentreReplaced(new.to_centre()))
    built.service.apply_config(new)


def parts_with_nodes(built: Built) -> dict[str, list[Any]]:
    comps = built.service.components
    one = {
        kind: next(c for c in comps if isinstance(c, kind))
        for kind in (Recorder, Monitors, DispositionWriter)
    }
    return {
        "announcer": built.waiting.announcer.nodes,
        "recorder": one[Recorder].nodes,
        "monitors": one[Monitors].nodes,
        "dispositions": one[DispositionWriter].nodes,
    }


def user_event(name: str, **headers: str) -> bytes:
    return encode_action({"Event": "UserEvent", "UserEvent": name, **headers})[:-4]


async def test_a_node_added_by_reload_is_every_parts_and_drained_one_is_let_go(tmp_path: Path) -> None:
    fake = FakeAmi()
    await fake.start()
    built = build(config(tmp_path, {"node1": 1}))
    assert built.omni.asterisk is not None
    # Leadership is decided when the service runs, which it does not here: nothing fences.
    built.service.parts.leadership = None
    fleet_task = asyncio.create_task(supervise("fleet", built.fleet.run))
    try:
        reload(built, config(tmp_path, {"node1": 1, "node2": fake.port}))
        node2 = built.fleet.nodes["node2"]
        for name, nodes in parts_with_nodes(built).items():
            assert node2 in nodes, name
        # callbacks: its DTMF and callback events go to a dialer of its own
        dialer = built.waiting.dialers["node2"]
        assert node2.ami_in.handlers["DTMFEnd"] == dialer.on_dtmf
        assert dialer.on_command in node2.ami_out.hooks
        # SMS and fax arriving on node 2 reach the omnichannel intake, named by node 2
        glue = built.omni.asterisk
        seen: list[tuple[str, str, str]] = []

        async def on_message(node: str, h: dict[str, str]) -> None:
            seen.append(("sms", node, h.get("Number", "")))

        async def on_fax(node: str, h: dict[str, str]) -> None:
            seen.append(("fax", node, h.get("Number", "")))

        glue.on_message = on_message  # type: ignore[method-assign]
        glue.on_fax = on_fax  # type: ignore[method-assign]
        node2.on_ami_event("UserEvent", user_event("CCRMessage", Number="10658000", BodyB64="MjAxMg=="))
        node2.on_ami_event("UserEvent", user_event("CCRFax", Number="9555", Status="SUCCESS", Pages="1"))
        await glue.drain()
        assert seen == [("sms", "node2", "10658000"), ("fax", "node2", "9555")]
        # a reply to an SMS that came through node 2 goes out through node 2
        await wait_until(lambda: node2.ready, 10, "node 2 connected")
        msg = InboundMessage(
            "<sip:13800138000@127.0.0.1>", "sip:10658000@127.0.0.1", "10658000", "2012", "m1", "node2"
        )
        await glue.send_reply(msg, "谢谢")
        [(_, sent)] = fake.actions("MessageSend")
        assert sent["Destination"] == "pjsip:trunk/sip:13800138000@127.0.0.1"

        # node 2 out of the config again: drained (no calls on it), then no part keeps it
        reload(built, config(tmp_path, {"node1": 1}))
        await wait_until(lambda: node2 not in built.service.parts.nodes, 5, "node 2 drained")
        for name, nodes in parts_with_nodes(built).items():
            assert node2 not in nodes, name
        assert "node2" not in built.waiting.dialers
        assert "node2" not in glue.nodes
    finally:
        fleet_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await fleet_task
        await fake.stop()


async def test_a_node_configured_at_start_and_removed_by_reload_is_disconnected_once_drained(
    tmp_path: Path,
) -> None:
    fake = FakeAmi()
    await fake.start()
    built = build(config(tmp_path, {"node1": 1, "node2": fake.port}))
    built.service.parts.leadership = None  # as above: nothing fences here
    node2 = built.fleet.nodes["node2"]
    # started by the service (a component), not by the fleet
    runs = [asyncio.create_task(supervise("node2", node2.run)), asyncio.create_task(built.fleet.run())]
    try:
        await wait_until(lambda: node2.ready, 10, "node 2 connected")
        reload(built, config(tmp_path, {"node1": 1}))
        await wait_until(lambda: runs[0].done(), 5, "node 2's run ended")
        assert not node2.ready and node2.conn is not None and not node2.conn.connected
        assert node2.on_commands not in built.service.sinks
        logins = len(fake.actions("Login"))
        await asyncio.sleep(1.0)
        assert len(fake.actions("Login")) == logins  # gone for good, no reconnect
    finally:
        for t in runs:
            t.cancel()
        await asyncio.gather(*runs, return_exceptions=True)
        await fake.stop()
