"""/readyz and /metrics with the real AmiNode (built as the service builds it) against the
scripted AMI server: the names a load balancer and Prometheus see."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from cc_router.adapters import ami
from cc_router.adapters.ami.node import AmiNode
from cc_router.config import loads_config
from cc_router.http import attach_http
from cc_router.service import Service
from tests.ami.fake_ami import FakeAmi
from tests.ami.test_connection import CONFIG, _until


@pytest.mark.asyncio
async def test_readyz_names_each_node_once() -> None:
    fake = FakeAmi()
    await fake.start()
    service = Service.from_config(loads_config(CONFIG.format(port=fake.port, batch=0.1)))
    [node] = ami.build(service)
    assert isinstance(node, AmiNode)
    app = attach_http(service, port=0).app
    task: asyncio.Task[None] | None = None
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        try:
            r = await client.get("/readyz")
            assert r.status_code == 503
            assert r.json()["checks"] == [{"check": "ami:ast1", "ok": False}]
            task = asyncio.create_task(node.run())
            await _until(lambda: node.ready)
            r = await client.get("/readyz")
            assert r.status_code == 200
            assert r.json()["checks"] == [{"check": "ami:ast1", "ok": True}]
            metrics = (await client.get("/metrics")).text
            drift = [f for f in text_string_to_metric_families(metrics) if f.name == "cc_router_ami_drift"]
            assert len(drift) == 1  # the family is there; no drift yet, so no samples
            assert node.health()["node"] == "ast1" and node.health()["ready"] is True
        finally:
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
            await fake.stop()
