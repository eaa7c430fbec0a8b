"""What an audited action's target looks like, read from the router before and after it.

Each kind keeps only the fields a supervisor action can change, so `before -> after` in
the audit table reads as the change itself.
"""

from __future__ import annotations

from typing import Any

from cc_router.config import summary
from cc_router.console.audit import AuditAction, TargetKind
from cc_router.core.spec import QueueSpec
from cc_router.service import Service


def steps_json(spec: QueueSpec) -> list[dict[str, Any]]:
    return [
        {"after_s": s.after_s, "requirement": s.requirement, "priority_boost": s.priority_boost}
        for s in spec.steps
    ]


def snapshot(service: Service, action: AuditAction, kind: TargetKind, target: str) -> dict[str, Any] | None:
    """The target now (None: it does not exist, e.g. an interaction that has left)."""
    router = service.router
    if kind is TargetKind.AGENT:
        a = router.agents.get(target)
        if a is None:
            return None
        if action is AuditAction.SKILLS:
            return {"skills": dict(a.spec.skills)}
        return {"state": str(a.state), "reason": a.state_reason or None}
    if kind is TargetKind.INTERACTION:
        it = router.interactions.get(target)
        if it is None:
            return None
        return {"queue": it.queue.spec.name, "priority": it.priority, "position": router.position(target)}
    if kind is TargetKind.QUEUE:
        spec = router.centre.queue(target)
        if spec is None:
            return None
        return {"priority": spec.priority, "steps": steps_json(spec)}
    return {"source": service.config.source, "summary": summary(service.config)}
