"""HTTP surfaces: control API, SSE, wallboard, Prometheus metrics and health checks."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.routing import BaseRoute

from cc_router.http.app import create_app
from cc_router.http.component import HttpComponent
from cc_router.http.context import HttpContext
from cc_router.http.metrics import Metrics
from cc_router.live import LiveView
from cc_router.service import Service

__all__ = ["HttpComponent", "HttpContext", "Metrics", "attach_http", "create_app"]


def attach_http(
    service: Service,
    config_path: str | None = None,
    port: int | None = None,
    *,
    routes: Sequence[BaseRoute] = (),
) -> HttpComponent:
    """Hook the live view and metrics into `service` and add the HTTP component
    (`port` overrides config.http.port; 0 picks a free one, see `HttpComponent.bound_port`;
    `routes` are other features' routes, e.g. omnichannel tasks, served beside the API)."""
    live = LiveView.attach(service)
    metrics = Metrics(live)
    metrics.attach(service)
    component = HttpComponent(service, live, metrics, config_path=config_path, port=port, routes=routes)
    service.components.append(component)
    return component
