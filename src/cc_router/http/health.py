"""Liveness and readiness: what a load balancer or systemd watchdog asks."""

from __future__ import annotations

from typing import Any

from cc_router.service import Service


def readiness(service: Service) -> tuple[bool, list[dict[str, Any]]]:
    """(ready, checks): ready only if every AMI node, the store and MQTT (if used) are up."""
    checks: list[dict[str, Any]] = []
    parts = service.parts
    lead = parts.leadership
    if lead is not None:
        # A new leader is ready only once it has restored state and routes.
        ok = lead.role == "leader" and service.routing
        check: dict[str, Any] = {"check": "leadership", "ok": ok, "role": lead.role}
        if lead.role != "leader":
            check["leader"] = lead.leader_address or None
        checks.append(check)
    for i, node in enumerate(parts.nodes):
        # A node's component name (`ami:<asterisk name>`) is its check, like store and mqtt.
        checks.append({"check": node.name or f"ami[{i}]", "ok": bool(node.ready)})
    store = parts.store
    if store is not None:
        check = {"check": "store", "ok": bool(store.healthy)}
        if store.last_error and not check["ok"]:
            # The writer's message names the driver error; URLs are redacted by the writer.
            check["detail"] = str(store.last_error)[:200]
        checks.append(check)
    if service.config.mqtt.enabled or parts.mqtt is not None:
        checks.append({"check": "mqtt", "ok": parts.mqtt is not None and bool(parts.mqtt.connected)})
    return all(c["ok"] for c in checks), checks
