"""A supervisor re-prioritises a waiting caller over MQTT (real Mosquitto)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cc_router.core import events as ev
from tests.mqtt.conftest import API_TOKEN, Running, watcher

pytestmark = pytest.mark.mqtt


@pytest.mark.asyncio
async def test_priority_command_reorders_and_needs_the_token(shared: Running) -> None:
    router = shared.service.router
    shared.service.submit(ev.InteractionArrived("c1", "billing"))
    shared.service.submit(ev.InteractionArrived("c2", "billing"))
    assert router.position("c2") == 2
    result = shared.topic("interactions/c2/result")
    command = shared.topic("interactions/c2/command")
    async with watcher(shared.prefix, pattern="interactions/+/result") as w:

        async def send(payload: bytes | dict[str, Any]) -> dict[str, Any]:
            before = len(w.on(result))
            await w.send(command, payload)
            await w.wait_for(lambda: len(w.on(result)) > before, what=f"result of {payload!r}")
            return w.json_on(result)[-1]

        # An agent's desktop without the supervisor token, or a wrong one: refused.
        res = await send({"action": "priority", "priority": 9, "request_id": "r0"})
        assert res["ok"] is False and res["error"] == "token required" and res["request_id"] == "r0"
        res = await send({"action": "priority", "priority": 9, "token": "guess"})
        assert res["ok"] is False and res["error"] == "bad token"
        assert router.interactions["c2"].priority == 0 and router.position("c2") == 2
        # Bad bodies are errors, and the service keeps going.
        for bad, why in (
            (b"{oops", "not JSON"),
            ({"action": "priority", "priority": "high", "token": API_TOKEN}, "priority"),
            ({"action": "shout", "priority": 1, "token": API_TOKEN}, "action"),
        ):
            res = await send(bad)
            assert res["ok"] is False and why in res["error"], res
        res = await send({"action": "priority", "priority": 9, "token": API_TOKEN, "request_id": "r1"})
        assert res == {
            "ok": True,
            "interaction_id": "c2",
            "action": "priority",
            "request_id": "r1",
            "priority": 9,
            "position": 1,
        }
        assert router.position("c1") == 2
        # Unknown interaction: an error on its own result topic.
        await w.send(
            shared.topic("interactions/zz/command"), {"action": "priority", "priority": 1, "token": API_TOKEN}
        )
        await w.wait_for(lambda: w.on(shared.topic("interactions/zz/result")), what="unknown result")
        assert "unknown interaction" in json.loads(w.on(shared.topic("interactions/zz/result"))[-1])["error"]
    assert API_TOKEN not in "".join(m[1].decode(errors="replace") for m in w.messages)
