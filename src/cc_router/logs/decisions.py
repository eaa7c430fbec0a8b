"""The decision log: one structured line per routing decision, for ops tailing logs.

Every line about an interaction carries `interaction_id` (and `agent_id` when an agent is
involved), so `grep interaction_id=…` or `jq 'select(.interaction_id==…)'` tells the whole
story of one call. It is an observer of the service: told in batches, off the routing path,
each JSON line stamped with the time of its decision. With JSON lines it renders them
itself (`logs.lines.JsonLines`), skipping structlog's processor chain; on a console they go
through structlog as any other line.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import structlog

from cc_router.core import commands as cmd
from cc_router.logs.configure import json_lines
from cc_router.service import Handled, Service

LOGGER_NAME = "cc_router.decisions"


def _excluded(explanation: cmd.Explanation) -> list[str]:
    return [f"{who}:{why}" for who, why in explanation.excluded]


class DecisionLog:
    """A command sink writing the decision lines; see `attach_decision_log`."""

    def __init__(self, logger: Any | None = None) -> None:
        self.log = logger

    def observe(self, batch: Sequence[Handled]) -> None:
        for _, commands, at, _ in batch:
            if commands:
                self(commands, at)

    def __call__(self, commands: Sequence[cmd.Command], now: float) -> None:
        if not commands:
            return
        log = self.log
        if log is None:
            # Bound at the first decision, once logging is configured, and kept: a lazy
            # proxy would rebuild the logger on every line.
            log = self.log = structlog.get_logger(LOGGER_NAME).bind()
        fast = json_lines()
        threshold = fast.level if fast is not None else _level_of(log)
        for c in commands:
            if isinstance(c, cmd.EventRejected):
                # Its reason can quote what a client sent: through the redacting pipeline.
                event = c.event
                ids = {
                    k: v
                    for k in ("interaction_id", "agent_id")
                    if isinstance(v := getattr(event, k, None), str)
                }
                log.warning("event_rejected", event_type=type(event).__name__, reason=c.reason, **ids)
                continue
            line = _line(c, threshold)
            if line is None:
                continue
            level, name, fields = line
            if fast is not None:
                # Every field is an id, a configured name or a core enum: nothing a secret
                # could hide in, so the redacting processor chain is not needed.
                fast.line(LOGGER_NAME, level, name, fields, now)
            else:
                getattr(log, level)(name, **fields)


def _level_of(log: Any) -> int:
    is_enabled_for = getattr(log, "is_enabled_for", None)
    if is_enabled_for is not None and is_enabled_for(logging.DEBUG):
        return logging.DEBUG
    return logging.INFO


def _line(c: cmd.Command, level: int) -> tuple[str, str, dict[str, Any]] | None:
    """(level, event, fields) of the decision line for `c`; None if it makes none at `level`."""
    if isinstance(c, cmd.Offer):
        x = c.explanation
        return (
            "info",
            "offer",
            {
                "interaction_id": c.interaction_id,
                "agent_id": c.agent_id,
                "offer_id": c.offer_id,
                "queue": c.queue,
                "channel": c.channel.value,
                "strategy": x.strategy,
                "step": x.step,
                "trigger": x.trigger,
                "reason": x.summary(),
                "candidates": len(x.candidates),
                "available": x.available,
                "excluded": _excluded(x),
            },
        )
    if isinstance(c, cmd.AgentStateChanged):
        if level > logging.DEBUG:
            return None
        return (
            "debug",
            "agent_state",
            {
                "agent_id": c.agent_id,
                "state": c.state,
                "reason": c.reason,
                "previous": c.previous,
                "previous_s": round(c.at - c.previous_since, 3),
            },
        )
    if isinstance(c, cmd.InteractionQueued):
        return "info", "queued", {
            "interaction_id": c.interaction_id, "queue": c.queue, "step": c.step, "reason": c.reason,
        }  # fmt: skip
    if isinstance(c, cmd.InteractionConnected):
        return (
            "info",
            "connected",
            {
                "interaction_id": c.interaction_id,
                "agent_id": c.agent_id,
                "queue": c.queue,
                "wait_s": round(c.wait_s, 3),
            },
        )
    if isinstance(c, cmd.CancelOffer):
        return (
            "info",
            "offer_cancelled",
            {
                "interaction_id": c.interaction_id,
                "agent_id": c.agent_id,
                "offer_id": c.offer_id,
                "reason": c.reason,
            },
        )
    if isinstance(c, cmd.ExitInteraction):
        return (
            "info",
            "exit",
            {
                "interaction_id": c.interaction_id,
                "queue": c.queue,
                "target": str(c.target) if c.target is not None else None,
                "reason": c.reason,
            },
        )
    if isinstance(c, cmd.InteractionFinished):
        return (
            "info",
            "finished",
            {
                "interaction_id": c.interaction_id,
                "agent_id": c.agent_id,
                "queue": c.queue,
                "outcome": c.outcome,
                "wait_s": round(c.wait_s, 3),
                "talk_s": round(c.talk_s, 3),
                "misses": c.misses,
                "disposition": c.disposition,
            },
        )
    return None


def attach_decision_log(service: Service) -> DecisionLog:
    """Add the decision log as an observer of `service` and return it."""
    sink = DecisionLog()
    service.observers.append(sink.observe)
    return sink
