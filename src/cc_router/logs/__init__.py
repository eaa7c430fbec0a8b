"""Structured logging: process-wide setup, secret redaction and the routing decision log.

- `configure_logging(config.logging)`: structlog + stdlib routed through it, JSON lines or
  a console, redaction on every line.
- `attach_decision_log(service)`: one line per routing decision (see `decisions`).
- `python -m cc_router.logs.bench`: decision-log throughput as JSON lines.
"""

from cc_router.logs.configure import configure_logging
from cc_router.logs.decisions import DecisionLog, attach_decision_log
from cc_router.logs.redact import redact_processor, redact_value, scrub_text

__all__ = [
    "DecisionLog",
    "attach_decision_log",
    "configure_logging",
    "redact_processor",
    "redact_value",
    "scrub_text",
]
