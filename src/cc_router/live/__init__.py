"""Live state and today's statistics, derived from the router and its commands.

`LiveView.attach(service)` is all a surface (HTTP, MQTT, terminal) needs; see
`cc_router.live.view` for the snapshot shapes.
"""

from cc_router.live.agent_filter import AgentFilter, FilterError
from cc_router.live.stats import QueueCounters, service_level_pct
from cc_router.live.view import LiveView

__all__ = ["AgentFilter", "FilterError", "LiveView", "QueueCounters", "service_level_pct"]
