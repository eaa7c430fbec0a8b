"""The omnichannel block of wiring.build hooks onto HTTP, MQTT and AMI."""

from __future__ import annotations

from pathlib import Path

from starlette.routing import Route

from cc_router.wiring import build

from .conftest import centre_config


def test_build_service_wires_omni_everywhere(tmp_path: Path) -> None:
    config = centre_config(
        "\nmqtt: {enabled: true, topic_prefix: ccr-wiring}\n"
        "asterisk: [{name: ast1, port: 15038, secret: x}]\n"
    )
    built = build(config, store_url_override=f"sqlite+aiosqlite:///{tmp_path / 'w.db'}")
    service, omni = built.service, built.omni
    assert omni.tracker.sink in service.sinks and omni.component in service.components
    assert omni.component.migrate_schema is False  # the store component migrates
    assert omni.engine is built.store.engine
    paths = {r.path for r in built.http.app.router.routes if isinstance(r, Route)}
    assert {"/api/tasks", "/api/tasks/{task_id}/{action}", "/api/agents/{agent_id}/offers"} <= paths
    assert omni.mqtt is not None
    assert built.mqtt is not None
    filters = [f for f, _ in built.mqtt._handlers]
    assert "ccr-wiring/tasks/submit" in filters and "ccr-wiring/agents/+/tasks/+/+" in filters
    assert omni.asterisk is not None and set(omni.asterisk.nodes) == {"ast1"}
    assert omni.messages.reply == omni.asterisk.send_reply
