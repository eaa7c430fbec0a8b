"""Plain SMS tasks from Asterisk: every text on the Message channel carries the same
Uniqueid, yet each one is its own task; the same event handled twice is still one."""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from cc_router.config import Config
from cc_router.omni.asterisk_glue import AsteriskOmni, message_ref

from .conftest import start_omni, stop_omni


class Node:
    node = "ast1"

    def __init__(self) -> None:
        self.hooks: dict[str, Callable[[dict[str, str]], None]] = {}

    def on_user_event(self, name: str, callback: Callable[[dict[str, str]], None]) -> None:
        self.hooks[name] = callback

    async def send_action(self, action: Mapping[str, str | Sequence[str]]) -> Any:
        return {"Response": "Success"}


def event(body: str, stamp: str) -> dict[str, str]:
    # As in tests/fixtures/ami/g_sip_message.ami: the one Message channel's Uniqueid.
    return {
        "Uniqueid": "1795966419.0",
        "Timestamp": stamp,
        "UserEvent": "CCRMessage",
        "To": "pjsip:10658000@127.0.0.1",
        "From": "<sip:13800138000@127.0.0.1>",
        "Number": "10658000",
        "BodyB64": base64.b64encode(body.encode()).decode(),
    }


def test_message_ref_tells_texts_apart_and_keeps_one_event_stable() -> None:
    a, b = event("x", "1795966419.736501"), event("y", "1795966420.001234")
    assert message_ref(a) != message_ref(b)
    assert message_ref(a) == message_ref(dict(a))
    no_stamp = {k: v for k, v in a.items() if k != "Timestamp"}
    assert message_ref(no_stamp) != message_ref(no_stamp)  # random, never the bare Uniqueid
    assert message_ref(no_stamp).startswith("1795966419.0@")


@pytest.mark.asyncio
async def test_two_texts_on_one_message_channel_are_two_tasks(
    config: Config, sqlite_engine: AsyncEngine
) -> None:
    _, omni, run = await start_omni(config, sqlite_engine)
    glue = AsteriskOmni(omni.messages, omni.intake)
    node = Node()
    glue.hook(node)
    try:
        first = event("我想查询话费", "1795966419.736501")
        node.hooks["CCRMessage"](first)
        node.hooks["CCRMessage"](event("还有流量", "1795966425.100200"))
        node.hooks["CCRMessage"](first)  # the same event again: not a third task
        await glue.drain()
        bodies = sorted(str(t.summary["body"]) for t in omni.tracker.active.values() if t.channel == "sms")
        assert bodies == ["我想查询话费", "还有流量"]
        assert len({t for t in omni.tracker.active if t.startswith("sms-")}) == 2
    finally:
        await stop_omni(run)
