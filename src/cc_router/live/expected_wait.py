"""The service's expected-wait estimator: one per service, fed every command batch.

`attach(service)` is idempotent (the estimator lives in `service.parts.expected_wait`)
so the live view, the API and the announcements share one set of handle-time figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from cc_router.core import commands as cmd
from cc_router.core import events as ev
from cc_router.core.estimate import Estimator

if TYPE_CHECKING:
    from cc_router.service import Service


def attach(service: Service) -> Estimator:
    existing = service.parts.expected_wait
    if existing is not None:
        return existing
    estimator = Estimator(service.router)

    def listener(event: ev.Event, now: float) -> None:
        estimator.expect(event)

    def sink(commands: Sequence[cmd.Command], now: float) -> None:
        estimator.observe(commands)

    service.listeners.append(listener)
    service.sinks.append(sink)
    service.parts.expected_wait = estimator
    return estimator


def rounded(seconds: float | None) -> float | None:
    return round(seconds, 1) if seconds is not None else None
