"""What every route handler reaches through `request.app.state.ctx`."""

from __future__ import annotations

from dataclasses import dataclass

from cc_router.http.metrics import Metrics
from cc_router.live import LiveView
from cc_router.service import Service


@dataclass
class HttpContext:
    service: Service
    live: LiveView
    metrics: Metrics
    config_path: str | None = None
    """File `POST /api/config/reload` re-reads; None: the file the running config came from."""
    sse_heartbeat_s: float = 5.0
