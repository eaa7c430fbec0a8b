"""Replay recorded AMI streams (tests/fixtures/ami) through the parser and an AmiNode."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from cc_router.adapters.ami.connection import Reply
from cc_router.adapters.ami.node import AmiNode
from cc_router.adapters.ami.protocol import FrameSplitter, event_name
from cc_router.adapters.ami.registry import LegState
from cc_router.config import loads_config
from cc_router.core import commands as cmd
from cc_router.core import events as ev
from cc_router.service import Service

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ami"

CONFIG = """
skills: [lang_zh, billing]
agents:
  - {id: "1001", skills: {lang_zh: 5}}
  - {id: "1002", skills: {lang_zh: 5}}
  - {id: "1003", skills: {lang_zh: 5}}
  - {id: sip1, skills: {billing: 5}, endpoint: PJSIP/agent-sip-1}
queues:
  - {name: support, requirement: lang_zh, ring_timeout_s: 10}
  - {name: bills, requirement: billing}
numbers:
  "10086": {queue: support, priority: 1, attributes: {line: mobile}}
  "9555": {queue: bills}
asterisk:
  - {name: ast1, port: 15038, secret: x}
"""


class FakeConn:
    """Stands in for AmiConnection: records actions, answers from `replies`."""

    def __init__(self, replies: Mapping[str, Any] | None = None) -> None:
        self.sent: list[dict[str, Any]] = []
        self.replies = dict(replies or {})
        self.connected = True
        self._n = 0

    def action_id_for_next(self) -> str:
        self._n += 1
        return f"fake-{self._n}"

    def send_action(
        self, action: Mapping[str, str | Sequence[str]], *, lite: bool = False, low_priority: bool = False
    ) -> asyncio.Future[Reply]:
        self.sent.append(dict(action))
        fut: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        reply = self.replies.get(str(action.get("Action")), {"Response": "Success"})
        fut.set_result(reply(action) if callable(reply) else reply)
        return fut


@dataclass
class Harness:
    service: Service
    node: AmiNode
    conn: FakeConn
    events: list[ev.Event] = field(default_factory=list)
    commands: list[cmd.Command] = field(default_factory=list)
    clock: list[float] = field(default_factory=lambda: [1000.0])

    def replay(self, name: str, chunk: int = 1500, until: str | None = None) -> None:
        """Feed a fixture (or up to and including the first message containing `until`)."""
        data = (FIXTURES / name).read_bytes()
        if until is not None:
            end = data.index(until.encode())
            data = data[: data.index(b"\r\n\r\n", end) + 4]
        self.feed(data, chunk)

    def feed(self, data: bytes, chunk: int = 1500) -> None:
        splitter = FrameSplitter()
        splitter.banner = ""
        for i in range(0, len(data), chunk):
            for frame in splitter.feed(data[i : i + chunk]):
                name = event_name(frame)
                if name is not None:
                    self.node.on_ami_event(name, frame)

    def outbox(self, action: str) -> list[dict[str, Any]]:
        """Actions of this kind the node wrote at once or still holds for its send loop."""
        written = [a for a in self.conn.sent if a.get("Action") == action]
        return written + [dict(a) for a, _ in self.node.supervisor.outbox if a.get("Action") == action]

    def of(self, kind: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]

    def rekey_last_leg(self, channel_id: str, action_id: str, other_id: str = "") -> None:
        """Give the node's newest agent leg the ids the recording used (it sent no ChannelId)."""
        registry = self.node.registry
        leg = list(registry.legs.values())[-1]
        registry.forget_leg(leg)
        leg.channel_id, leg.other_id, leg.action_id = channel_id, other_id or f"{channel_id}-2", action_id
        registry.add_leg(leg)
        leg.state = LegState.QUEUED

    def login(self, *agents: str) -> None:
        for a in agents:
            self.service.submit(ev.AgentLoggedIn(a))


def make_harness(config_text: str = CONFIG) -> Harness:
    config = loads_config(config_text)
    clock = [1000.0]
    service = Service.from_config(config, clock=lambda: clock[0])
    node = AmiNode(service, config.asterisk[0])
    conn = FakeConn()
    node.conn = conn  # type: ignore[assignment]
    h = Harness(service, node, conn, clock=clock)
    service.listeners.append(lambda e, now: h.events.append(e))
    service.sinks.append(lambda cs, now: h.commands.extend(cs))
    node.attach()
    return h


@pytest.fixture
def harness() -> Harness:
    return make_harness()
