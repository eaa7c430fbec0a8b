"""The service's expected-wait estimator: one per service, fed every command batch (as an
observer of the service, in batches off the routing path).

`attach(service)` is idempotent (the estimator lives in `service.parts.expected_wait`)
so the live view, the API and the announcements share one set of handle-time figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from cc_router.core.estimate import Estimator

if TYPE_CHECKING:
    from cc_router.service import Handled, Service


def attach(service: Service) -> Estimator:
    existing = service.parts.expected_wait
    if existing is not None:
        return existing
    estimator = Estimator(service.router)

    def observe(batch: Sequence[Handled]) -> None:
        for event, commands, _, _ in batch:
            estimator.expect(event)
            estimator.observe(commands)

    service.observers.append(observe)
    service.parts.expected_wait = estimator
    return estimator


def rounded(seconds: float | None) -> float | None:
    return round(seconds, 1) if seconds is not None else None
