"""The MQTT adapter against a real Mosquitto (shared on :1883, or private to kill)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from cc_router.core import events as ev
from cc_router.mqtt import attach_mqtt
from cc_router.service import Service
from tests.mqtt.conftest import API_TOKEN, PrivateBroker, Running, make_config, running, watcher

pytestmark = pytest.mark.mqtt


def latest(w: Any, topic: str) -> dict[str, Any] | None:
    got = w.json_on(topic)
    return got[-1] if got else None


@pytest.mark.asyncio
async def test_new_subscriber_gets_retained_state_with_versions(shared: Running) -> None:
    shared.service.submit(ev.AgentLoggedIn("1001"), now=100.0)
    shared.service.submit(ev.InteractionArrived("c1", "billing", caller="13800138000"), now=101.0)
    agent_topic, queue_topic = shared.topic("state/agents/1001"), shared.topic("state/queues/billing")
    async with watcher(shared.prefix, pattern="state/#") as w:
        await w.wait_for(
            lambda: (a := latest(w, agent_topic)) and a["state"] == "reserved", what="agent 1001 reserved"
        )
        await w.wait_for(lambda: latest(w, queue_topic), what="queue state")
        agent = latest(w, agent_topic)
        assert agent is not None and agent["name"] == "陈静" and agent["version"] >= 1
        assert agent["interactions"][0]["id"] == "c1" and "time_in_state_s" not in agent
        queue = latest(w, queue_topic)
        assert queue is not None and queue["name"] == "billing" and queue["version"] >= 1
        assert "global_version" in queue and "longest_wait_s" not in queue
        assert latest(w, shared.topic("state/agents/1002")) is not None
    # A later subscriber gets the same retained copies, versions and all.
    async with watcher(shared.prefix, pattern="state/#") as w2:
        await w2.wait_for(lambda: latest(w2, agent_topic), what="retained agent state")
        assert latest(w2, agent_topic) == agent
        assert [retained for t, _, retained in w2.messages if t == agent_topic] == [True]
    assert "13800138000" not in json.dumps([m[1].decode() for m in w.messages])


@pytest.mark.asyncio
async def test_agent_command_changes_state(shared: Running) -> None:
    agent_topic = shared.topic("state/agents/1002")
    result_topic = shared.topic("agents/1002/result")
    command_topic = shared.topic("agents/1002/command")
    async with watcher(shared.prefix) as w:
        await w.wait_for(lambda: latest(w, agent_topic), what="initial agent state")
        v0 = latest(w, agent_topic)
        assert v0 is not None and v0["state"] == "logged_out"

        await w.send(command_topic, {"action": "login", "token": API_TOKEN, "request_id": "r1"})
        res = await w.wait_for(lambda: latest(w, result_topic), what="login result")
        assert res == {
            "ok": True,
            "agent_id": "1002",
            "action": "login",
            "request_id": "r1",
            "state": "ready",
            "reason": "",
        }
        ready = await w.wait_for(
            lambda: (a := latest(w, agent_topic)) and a["state"] == "ready" and a, what="state topic ready"
        )
        assert ready["version"] > v0["version"] and ready["global_version"] > v0["global_version"]

        await w.send(command_topic, {"action": "pause", "reason": "lunch", "max_s": 300, "token": API_TOKEN})
        paused = await w.wait_for(
            lambda: (a := latest(w, agent_topic)) and a["state"] == "paused" and a, what="paused"
        )
        assert paused["reason"] == "lunch"

        # ready = unpause when paused
        await w.send(command_topic, {"action": "ready", "token": API_TOKEN})
        await w.wait_for(lambda: (a := latest(w, agent_topic)) and a["state"] == "ready", what="ready again")
        await w.send(command_topic, {"action": "logout", "token": API_TOKEN})
        await w.wait_for(lambda: (a := latest(w, agent_topic)) and a["state"] == "logged_out", what="out")
        # ready = log in when logged out
        await w.send(command_topic, {"action": "ready", "token": API_TOKEN})
        await w.wait_for(lambda: (a := latest(w, agent_topic)) and a["state"] == "ready", what="in again")

        # The event stream saw the state changes, without secrets.
        events = await w.wait_for(
            lambda: [e for e in w.json_on(shared.topic("events")) if e["type"] == "agent_state"],
            what="agent_state events",
        )
        assert events[0]["agent_id"] == "1002" and events[0]["state"] == "ready"
        assert API_TOKEN not in json.dumps(
            [m[1].decode() for m in w.messages if not m[0].endswith("command")]
        )


@pytest.mark.asyncio
async def test_ready_ends_wrap_up(shared: Running) -> None:
    s = shared.service
    s.submit(ev.AgentLoggedIn("1001"), now=1.0)
    s.submit(ev.InteractionArrived("c9", "billing"), now=2.0)
    s.submit(ev.OfferAccepted("c9", "1001"), now=3.0)
    s.submit(ev.InteractionEnded("c9"), now=4.0)
    assert s.router.agents["1001"].state == "wrap_up"
    async with watcher(shared.prefix, pattern="agents/1001/result") as w:
        await w.send(shared.topic("agents/1001/command"), {"action": "ready", "token": API_TOKEN})
        res = await w.wait_for(lambda: latest(w, shared.topic("agents/1001/result")), what="result")
    assert res["ok"] and res["state"] == "ready"


BAD: list[tuple[bytes | dict[str, Any], str, str]] = [
    (b"{not json", "1001", "not JSON"),
    (b"[1, 2]", "1001", "JSON object"),
    (b"\xff\xfe", "1001", "not JSON"),
    ({"action": "dance", "token": API_TOKEN}, "1001", "action"),
    ({"action": "pause", "max_s": -5, "token": API_TOKEN}, "1001", "max_s"),
    ({"action": "login", "token": API_TOKEN, "colour": "red"}, "1001", "colour"),
    ({"action": "login", "token": API_TOKEN}, "7777", "unknown agent"),
    ({"action": "login", "token": "wrong"}, "1001", "bad token"),
    ({"action": "login"}, "1001", "token required"),
    ({"action": "pause", "token": API_TOKEN}, "1002", "logged out"),  # rejected by the core
]


@pytest.mark.asyncio
async def test_bad_commands_get_error_results_and_service_keeps_going(shared: Running) -> None:
    async with watcher(shared.prefix, pattern="agents/+/result") as w:
        for n, (payload, agent, why) in enumerate(BAD):
            topic = shared.topic(f"agents/{agent}/result")
            before = len(w.on(topic))
            data = payload if isinstance(payload, bytes) else json.dumps({**payload, "request_id": f"b{n}"})
            await w.client.publish(shared.topic(f"agents/{agent}/command"), data, qos=1)
            await w.wait_for(lambda: len(w.on(topic)) > before, what=f"result for {payload!r}")  # noqa: B023
            res = w.json_on(topic)[-1]
            assert res["ok"] is False and why in res["error"], (payload, res)
            assert res["agent_id"] == agent
            if not isinstance(payload, bytes):
                assert res["request_id"] == f"b{n}"
        assert shared.mqtt.connected
        # still serving
        await w.send(shared.topic("agents/1001/command"), {"action": "login", "token": API_TOKEN})
        await w.wait_for(
            lambda: (r := latest(w, shared.topic("agents/1001/result"))) and r["ok"], what="good command"
        )
    assert "wrong" not in "".join(m[1].decode(errors="replace") for m in w.messages)


@pytest.mark.asyncio
async def test_event_stream(shared: Running) -> None:
    async with watcher(shared.prefix, pattern="events") as w:
        await asyncio.sleep(0.1)
        s = shared.service
        s.submit(ev.AgentLoggedIn("1001"), now=1.0)
        s.submit(ev.InteractionArrived("c1", "billing", caller="13800138000"), now=2.0)
        s.submit(ev.OfferAccepted("c1", "1001"), now=3.0)
        s.submit(ev.InteractionEnded("c1"), now=9.0)
        events = await w.wait_for(
            lambda: (
                (e := w.json_on(shared.topic("events")))
                and e[-1]["type"] == "agent_state"
                and any(x["type"] == "finished" for x in e)
                and e
            ),
            what="finished",
        )
    types = [e["type"] for e in events]
    assert types.index("offer") < types.index("connected") < types.index("finished")
    offer = next(e for e in events if e["type"] == "offer")
    assert offer["interaction_id"] == "c1" and offer["agent_id"] == "1001" and offer["queue"] == "billing"
    assert "13800138000" not in json.dumps(events)


@pytest.mark.asyncio
async def test_bursts_coalesce(shared: Running) -> None:
    agent_topic = shared.topic("state/agents/1001")
    async with watcher(shared.prefix, pattern="state/agents/1001") as w:
        await w.wait_for(lambda: latest(w, agent_topic), what="first state")
        first = len(w.on(agent_topic))
        for i in range(50):
            shared.service.submit(ev.AgentLoggedIn("1001") if i % 2 == 0 else ev.AgentLoggedOut("1001"))
        shared.service.submit(ev.AgentLoggedIn("1001"))
        await w.wait_for(lambda: latest(w, agent_topic)["state"] == "ready", what="final state")  # type: ignore[index]
        await asyncio.sleep(0.5)
    # 101 changes in well under 200 ms: one or two publishes, never one each.
    assert len(w.on(agent_topic)) - first <= 3
    assert latest(w, agent_topic)["state"] == "ready"  # type: ignore[index]


@pytest.mark.asyncio
async def test_other_modules_can_add_handlers(shared: Running) -> None:
    seen: list[tuple[str, bytes]] = []

    async def broken(topic: str, payload: bytes) -> None:
        raise RuntimeError("handler bug")

    async def echo(topic: str, payload: bytes) -> None:
        seen.append((topic, payload))
        shared.mqtt.publish(shared.topic("agents/1001/offer-reply"), {"got": payload.decode()}, qos=1)

    shared.mqtt.add_handler(shared.mqtt.topics.under("agents/+/offer/+"), broken)
    shared.mqtt.add_handler(shared.mqtt.topics.under("agents/+/offer/+"), echo)
    async with watcher(shared.prefix, pattern="agents/1001/offer-reply") as w:
        await asyncio.sleep(0.2)  # subscription goes out via the publisher task
        await w.client.publish(shared.topic("agents/1001/offer/o7"), b"accept", qos=1)
        reply = await w.wait_for(lambda: latest(w, shared.topic("agents/1001/offer-reply")), what="reply")
    assert reply == {"got": "accept"}
    assert seen == [(shared.topic("agents/1001/offer/o7"), b"accept")]
    assert shared.mqtt.connected


@pytest.mark.asyncio
async def test_reconnects_and_republishes_after_broker_restart(
    private_broker: PrivateBroker, prefix: str
) -> None:
    port = private_broker.port
    await private_broker.ready()
    async with running(prefix, port) as r:
        await r.connected()
        assert r.service.parts.mqtt is r.mqtt and r.mqtt.connects == 1
        r.service.submit(ev.AgentLoggedIn("1001"))
        agent_topic = r.topic("state/agents/1001")
        async with watcher(prefix, port, "state/#") as w:
            await w.wait_for(lambda: (a := latest(w, agent_topic)) and a["state"] == "ready", what="ready")
        before = latest(w, agent_topic)
        assert before is not None

        private_broker.stop()  # no persistence: the retained state dies with it
        async with asyncio.timeout(5):
            while r.mqtt.connected:
                await asyncio.sleep(0.02)
        # Routing goes on while the broker is away.
        r.service.submit(ev.AgentPaused("1001", reason="meeting"))
        r.service.submit(ev.AgentLoggedIn("1002"))

        private_broker.start()
        await private_broker.ready()
        await r.connected(timeout=10)
        assert r.mqtt.connects == 2
        async with watcher(prefix, port, "state/#") as w:
            a1 = await w.wait_for(
                lambda: (a := latest(w, agent_topic)) and a["state"] == "paused" and a,
                what="republished 1001",
            )
            a2 = await w.wait_for(lambda: latest(w, r.topic("state/agents/1002")), what="republished 1002")
            q = await w.wait_for(lambda: latest(w, r.topic("state/queues/billing")), what="republished queue")
        assert a1["reason"] == "meeting" and a1["version"] == before["version"] + 1
        assert a2["state"] == "ready" and q["name"] == "billing"
        # status is back online (the will said offline while we were away)
        async with watcher(prefix, port, "status") as w:
            status = await w.wait_for(lambda: w.on(r.topic("status")), what="status")
        assert status[-1] == b"online"


@pytest.mark.asyncio
async def test_keeps_retrying_while_no_broker(prefix: str) -> None:
    from tests.mqtt.conftest import free_port

    async with running(prefix, free_port()) as r:
        await asyncio.sleep(0.5)
        assert not r.mqtt.connected
        r.service.submit(ev.AgentLoggedIn("1001"))  # the sink never blocks or fails
        assert r.service.router.agents["1001"].state == "ready"


def test_disabled_by_default_needs_no_broker(prefix: str) -> None:
    config = make_config(prefix).model_copy(
        update={"mqtt": make_config(prefix).mqtt.model_copy(update={"enabled": False})}
    )
    service = Service.from_config(config)
    assert attach_mqtt(service) is None
    assert service.components == [] and service.parts.mqtt is None and service.sinks == []
