"""The AMI outbox's one question to leadership: may this router write actions now?"""

from __future__ import annotations

from collections.abc import Callable

from cc_router.service import Service


def outbox_gate(service: Service) -> Callable[[], bool] | None:
    """The check to make before every AMI write, or None where nothing fences (no store)."""
    lead = service.parts.leadership
    return None if lead is None else lead.may_send


__all__ = ["outbox_gate"]
