"""Prometheus exposition and health endpoints."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from prometheus_client.parser import text_string_to_metric_families

from cc_router.core import events as ev
from tests.http.conftest import Env, busy_floor

pytestmark = pytest.mark.asyncio


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


async def test_metrics_exposition(env: Env) -> None:
    busy_floor(env)
    env.service.submit(ev.OfferDeclined("c3", "1002", "rejected"))  # not offered to 1002: rejected by core
    env.service.submit(ev.InteractionAbandoned("c2"))
    r = await env.client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    text = r.text
    s = _samples(text)
    assert s[("cc_router_queue_waiting", (("channel", "voice"), ("queue", "billing")))] == 1
    assert s[("cc_router_queue_agents", (("queue", "billing"), ("state", "busy")))] == 1
    assert s[("cc_router_queue_longest_wait_seconds", (("queue", "billing"),))] == 3.0
    assert s[("cc_router_interactions_offered_total", (("channel", "voice"), ("queue", "billing")))] == 3
    assert s[("cc_router_interactions_answered_total", (("channel", "voice"), ("queue", "billing")))] == 1
    assert s[("cc_router_interactions_abandoned_total", (("channel", "voice"), ("queue", "billing")))] == 1
    assert (
        s[("cc_router_offers_total", (("channel", "voice"), ("queue", "billing"), ("reason", "arrival")))]
        == 1
    )
    assert s[("cc_router_events_rejected_total", (("reason", "OfferDeclined"),))] == 1
    assert ("cc_router_offer_declines_total", (("queue", "billing"), ("reason", "rejected"))) not in s
    assert s[("cc_router_channel_agents", (("channel", "voice"), ("state", "ready")))] == 1
    # 1001 holds its call (1 of 1 voice slot), 1002 is free: 1 of 2 voice slots in use.
    assert s[("cc_router_channel_slots", (("channel", "voice"), ("kind", "used")))] == 1
    assert s[("cc_router_channel_slots", (("channel", "voice"), ("kind", "total")))] == 2
    assert s[("cc_router_channel_slots", (("channel", "chat"), ("kind", "total")))] == 0
    assert s[("cc_router_answer_wait_seconds_count", (("queue", "billing"),))] == 1
    assert s[("cc_router_abandon_wait_seconds_count", (("queue", "billing"),))] == 1
    assert s[("cc_router_handle_seconds_count", ())] >= 7
    # No caller numbers, no agent ids, no names: labels are bounded sets only.
    labels = {(k, v) for _, lbls in s for k, v in lbls}
    assert {k for k, _ in labels} <= {"queue", "channel", "state", "reason", "kind", "le"}
    values = {v for _, v in labels}
    # Sample values (counts, timestamps) may contain any digits; names and labels may not.
    names_and_labels = "\n".join(
        line.rsplit(" ", 1)[0] for line in text.splitlines() if line and not line.startswith("#")
    )
    for secret in ("13800138000", "13900139000", "13700137000", "1001", "1002"):
        assert secret not in values and secret not in names_and_labels
    assert "张伟" not in text
    assert "python_gc" not in text  # our own registry, not the global one


async def test_offer_declines_counted_by_reason(env: Env) -> None:
    env.service.submit(ev.AgentLoggedIn("1001"))
    env.service.submit(ev.InteractionArrived("c9", "billing"))
    env.service.submit(ev.OfferDeclined("c9", "1001", "busy"))
    s = _samples((await env.client.get("/metrics")).text)
    assert s[("cc_router_offer_declines_total", (("queue", "billing"), ("reason", "busy")))] == 1


@dataclass
class FakeNode:
    name: str
    ready: bool
    node: str = ""
    drift: dict[str, int] = field(default_factory=dict)


@dataclass
class FakeStore:
    healthy: bool = True
    last_error: str = ""


@dataclass
class FakeMqtt:
    connected: bool


async def test_livez_and_readyz(env: Env) -> None:
    assert (await env.client.get("/livez")).json() == {"status": "alive"}
    node = FakeNode("ami:ast1", True)  # as AmiNode names itself (tests/ami/test_health.py)
    env.service.parts.nodes = [node, FakeNode("ami:ast2", True)]
    env.service.parts.store = FakeStore()
    r = await env.client.get("/readyz")
    assert r.status_code == 200 and r.json()["ready"] is True
    assert [c["check"] for c in r.json()["checks"]] == ["ami:ast1", "ami:ast2", "store"]
    node.ready = False
    r = await env.client.get("/readyz")
    assert r.status_code == 503
    assert {"check": "ami:ast1", "ok": False} in r.json()["checks"]
    node.ready = True
    env.service.parts.store = FakeStore(healthy=False, last_error="OperationalError: gone")
    r = await env.client.get("/readyz")
    assert r.status_code == 503 and r.json()["checks"][-1]["detail"] == "OperationalError: gone"
    env.service.parts.store = FakeStore()
    env.service.parts.mqtt = FakeMqtt(connected=False)
    assert (await env.client.get("/readyz")).status_code == 503
    env.service.parts.mqtt = FakeMqtt(connected=True)
    assert (await env.client.get("/readyz")).status_code == 200
