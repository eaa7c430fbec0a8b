"""Liveness and readiness: what a load balancer or systemd watchdog asks."""

from __future__ import annotations

from typing import Any

from cc_router.service import Service


def readiness(service: Service) -> tuple[bool, list[dict[str, Any]]]:
    """(ready, checks): ready only if every AMI node, the store and MQTT (if used) are up."""
    checks: list[dict[str, Any]] = []
    lead = service.extras.get("leadership")
    if lead is not None:
        role = str(getattr(lead, "role", ""))
        # A new leader is ready only once it has restored state and routes.
        ok = role == "leader" and service.routing
        check: dict[str, Any] = {"check": "leadership", "ok": ok, "role": role}
        if role != "leader":
            check["leader"] = getattr(lead, "leader_address", "") or None
        checks.append(check)
    nodes = service.extras.get("ami", [])
    if isinstance(nodes, list | tuple):
        for i, node in enumerate(nodes):
            name = getattr(node, "name", None) or f"ami[{i}]"
            checks.append({"check": f"ami:{name}", "ok": bool(getattr(node, "ready", False))})
    store = service.extras.get("store")
    if store is not None:
        check = {"check": "store", "ok": bool(getattr(store, "healthy", False))}
        err = getattr(store, "last_error", "")
        if err and not check["ok"]:
            # The writer's message names the driver error; URLs are redacted by the writer.
            check["detail"] = str(err)[:200]
        checks.append(check)
    if service.config.mqtt.enabled or "mqtt" in service.extras:
        mqtt = service.extras.get("mqtt")
        checks.append({"check": "mqtt", "ok": bool(getattr(mqtt, "connected", False))})
    return all(c["ok"] for c in checks), checks
