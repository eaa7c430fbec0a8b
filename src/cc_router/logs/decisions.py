"""The decision log: one structured line per routing decision, for ops tailing logs.

Every line about an interaction carries `interaction_id` (and `agent_id` when an agent is
involved), so `grep interaction_id=…` or `jq 'select(.interaction_id==…)'` tells the whole
story of one call. The sink is synchronous and on the routing path: it formats nothing
itself beyond picking fields, and levels filtered out cost one method call.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import structlog

from cc_router.core import commands as cmd
from cc_router.service import Service

LOGGER_NAME = "cc_router.decisions"


def _excluded(explanation: cmd.Explanation) -> list[str]:
    return [f"{who}:{why}" for who, why in explanation.excluded]


class DecisionLog:
    """A command sink writing the decision lines; see `attach_decision_log`."""

    def __init__(self, logger: Any | None = None) -> None:
        self.log = logger

    def __call__(self, commands: Sequence[cmd.Command], now: float) -> None:
        log = self.log
        if log is None:
            # Bound at the first decision, once logging is configured, and kept: a lazy
            # proxy would rebuild the logger on every line.
            log = self.log = structlog.get_logger(LOGGER_NAME).bind()
        for c in commands:
            if isinstance(c, cmd.Offer):
                x = c.explanation
                log.info(
                    "offer",
                    interaction_id=c.interaction_id,
                    agent_id=c.agent_id,
                    offer_id=c.offer_id,
                    queue=c.queue,
                    channel=c.channel.value,
                    strategy=x.strategy,
                    step=x.step,
                    trigger=x.trigger,
                    reason=x.summary(),
                    candidates=len(x.candidates),
                    available=x.available,
                    excluded=_excluded(x),
                )
            elif isinstance(c, cmd.AgentStateChanged):
                log.debug(
                    "agent_state",
                    agent_id=c.agent_id,
                    state=c.state,
                    reason=c.reason,
                    previous=c.previous,
                    previous_s=round(c.at - c.previous_since, 3),
                )
            elif isinstance(c, cmd.InteractionQueued):
                log.info(
                    "queued", interaction_id=c.interaction_id, queue=c.queue, step=c.step, reason=c.reason
                )
            elif isinstance(c, cmd.InteractionConnected):
                log.info(
                    "connected",
                    interaction_id=c.interaction_id,
                    agent_id=c.agent_id,
                    queue=c.queue,
                    wait_s=round(c.wait_s, 3),
                )
            elif isinstance(c, cmd.CancelOffer):
                log.info(
                    "offer_cancelled",
                    interaction_id=c.interaction_id,
                    agent_id=c.agent_id,
                    offer_id=c.offer_id,
                    reason=c.reason,
                )
            elif isinstance(c, cmd.ExitInteraction):
                log.info(
                    "exit",
                    interaction_id=c.interaction_id,
                    queue=c.queue,
                    target=str(c.target) if c.target is not None else None,
                    reason=c.reason,
                )
            elif isinstance(c, cmd.InteractionFinished):
                log.info(
                    "finished",
                    interaction_id=c.interaction_id,
                    agent_id=c.agent_id,
                    queue=c.queue,
                    outcome=c.outcome,
                    wait_s=round(c.wait_s, 3),
                    talk_s=round(c.talk_s, 3),
                    misses=c.misses,
                    disposition=c.disposition,
                )
            elif isinstance(c, cmd.EventRejected):
                event = c.event
                ids = {
                    k: v
                    for k in ("interaction_id", "agent_id")
                    if isinstance(v := getattr(event, k, None), str)
                }
                log.warning("event_rejected", event_type=type(event).__name__, reason=c.reason, **ids)


def attach_decision_log(service: Service) -> DecisionLog:
    """Add the decision log as a command sink of `service` and return it."""
    sink = DecisionLog()
    service.sinks.append(sink)
    return sink
