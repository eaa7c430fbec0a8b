"""Tasks over the real Mosquitto: submit, offer on the desktop topic, accept, complete."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Callable
from typing import Any

import aiomqtt
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from cc_router.mqtt import attach_mqtt
from cc_router.omni.attach import build, install
from cc_router.service import Service

from .conftest import centre_config, login

pytestmark = pytest.mark.mqtt
TOKEN = "desk-token-omni"


async def _wait(msgs: list[tuple[str, Any]], pred: Callable[[str, Any], bool], timeout: float = 5.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        for topic, data in msgs:
            if pred(topic, data):
                return data
        await asyncio.sleep(0.02)
    raise AssertionError(f"no matching MQTT message; saw {[t for t, _ in msgs]}")


@pytest.mark.asyncio
async def test_task_over_mqtt_end_to_end(sqlite_engine: AsyncEngine) -> None:
    prefix = f"ccr-omni-{uuid.uuid4().hex[:8]}"
    mqtt_yaml = f"{{enabled: true, host: 127.0.0.1, port: 1883, topic_prefix: {prefix}}}"
    config = centre_config(f"\nhttp: {{token: {TOKEN}}}\nmqtt: {mqtt_yaml}\n")
    service = Service.from_config(config)
    mqtt = attach_mqtt(service)
    assert mqtt is not None
    omni = install(service, build(service, sqlite_engine), mqtt=mqtt)
    assert omni.mqtt is not None
    tasks = [asyncio.create_task(c.run()) for c in (mqtt, omni.component)]
    seen: list[tuple[str, Any]] = []
    try:
        async with aiomqtt.Client("127.0.0.1", 1883, identifier=f"desk-{prefix}") as desk:
            await desk.subscribe(f"{prefix}/tasks/result/#", qos=1)
            await desk.subscribe(f"{prefix}/agents/+/offers", qos=1)
            await desk.subscribe(f"{prefix}/agents/+/tasks/+/result", qos=1)

            async def read() -> None:
                async for m in desk.messages:
                    seen.append((m.topic.value, json.loads(bytes(m.payload))))  # type: ignore[arg-type]

            reader = asyncio.create_task(read())
            for _ in range(200):  # the service subscribes once connected
                if mqtt.connected:
                    break
                await asyncio.sleep(0.02)
            await asyncio.sleep(0.2)
            login(service, "a1")

            # Bad token, bad payload: refused with a reason on the result topic.
            await desk.publish(f"{prefix}/tasks/submit", json.dumps({"client_ref": "r0", "token": "nope",
                               "channel": "chat", "queue": "chat_zh"}), qos=1)  # fmt: skip
            bad = await _wait(seen, lambda t, d: t.endswith("/tasks/result/r0"))
            assert bad["ok"] is False and bad["status"] == 401
            await desk.publish(f"{prefix}/tasks/submit", b"\xff not json", qos=1)
            junk = await _wait(seen, lambda t, d: t.endswith("/tasks/result/_invalid"))
            assert junk["status"] == 400
            await desk.publish(f"{prefix}/tasks/submit", json.dumps({"client_ref": "r1", "token": TOKEN,
                               "channel": "chat", "queue": "email_service"}), qos=1)  # fmt: skip
            wrong = await _wait(seen, lambda t, d: t.endswith("/tasks/result/r1"))
            assert wrong["status"] == 422 and "takes email" in wrong["error"]

            submission = {"token": TOKEN, "client_ref": "web-42", "channel": "chat", "queue": "chat_zh",
                          "customer": "李娜", "body": "宽带断了", "attributes": {"lang": "zh"}}  # fmt: skip
            await desk.publish(f"{prefix}/tasks/submit", json.dumps(submission, ensure_ascii=False), qos=1)
            ok = await _wait(seen, lambda t, d: t.endswith("/tasks/result/web-42"))
            assert ok["ok"] is True and ok["created"] is True
            task_id = ok["task_id"]
            offer = await _wait(seen, lambda t, d: t == f"{prefix}/agents/a1/offers" and d["type"] == "offer")
            assert offer["task_id"] == task_id and offer["task"]["body"] == "宽带断了"
            assert offer["timeout_s"] == 30

            base = f"{prefix}/agents/a1/tasks/{task_id}"
            await desk.publish(f"{base}/accept", json.dumps({"token": TOKEN, "request_id": "q1"}), qos=1)
            acc = await _wait(seen, lambda t, d: t == f"{base}/result" and d.get("request_id") == "q1")
            assert acc["ok"] is True
            closed = await _wait(seen, lambda t, d: t.endswith("/a1/offers") and d["type"] == "closed")
            assert closed["reason"] == "accepted"
            await desk.publish(f"{base}/complete", json.dumps({"token": TOKEN, "request_id": "q2",
                               "disposition": "fixed"}), qos=1)  # fmt: skip
            done = await _wait(seen, lambda t, d: t == f"{base}/result" and d.get("request_id") == "q2")
            assert done["ok"] is True
            await desk.publish(f"{base}/complete", json.dumps({"token": TOKEN, "request_id": "q3"}), qos=1)
            again = await _wait(seen, lambda t, d: t == f"{base}/result" and d.get("request_id") == "q3")
            assert again["ok"] is False and again["status"] == 404
            reader.cancel()
        await omni.store.flush()
        stored = await omni.store.get(task_id)
        assert stored is not None and stored.status == "completed" and stored.disposition == "fixed"
        assert stored.source == "mqtt"
    finally:
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
