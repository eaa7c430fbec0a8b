"""Live state and today's statistics, derived from the router and its commands.

`LiveView.attach(service)` is all a surface (HTTP, MQTT, terminal) needs; see
`cc_router.live.view` for the snapshot shapes.
"""

from cc_router.live.stats import QueueCounters, service_level_pct
from cc_router.live.view import LiveView

__all__ = ["LiveView", "QueueCounters", "service_level_pct"]
