"""The `{prefix}/events` stream: one small JSON object per significant command.

Ids, queue names, states and reasons only: no caller numbers, no attributes, nothing a
desktop or dashboard on the bus does not need.
"""

from __future__ import annotations

from typing import Any

from cc_router.core import commands as cmd


def event_of(c: cmd.Command, now: float) -> dict[str, Any] | None:
    """The event-stream message for a command, or None when it is not worth one."""
    if isinstance(c, cmd.Offer):
        return {
            "type": "offer",
            "at": now,
            "offer_id": c.offer_id,
            "interaction_id": c.interaction_id,
            "agent_id": c.agent_id,
            "queue": c.queue,
            "channel": str(c.channel),
            "timeout_s": c.timeout_s,
            "reason": c.explanation.summary(),
        }
    if isinstance(c, cmd.AgentStateChanged):
        return {
            "type": "agent_state",
            "at": c.at,
            "agent_id": c.agent_id,
            "state": c.state,
            "reason": c.reason,
            "previous": c.previous,
        }
    if isinstance(c, cmd.InteractionConnected):
        return {
            "type": "connected",
            "at": c.at,
            "interaction_id": c.interaction_id,
            "agent_id": c.agent_id,
            "queue": c.queue,
            "channel": str(c.channel),
            "wait_s": round(c.wait_s, 3),
        }
    if isinstance(c, cmd.InteractionFinished):
        return {
            "type": "finished",
            "at": c.ended_at,
            "interaction_id": c.interaction_id,
            "agent_id": c.agent_id,
            "queue": c.queue,
            "channel": str(c.channel),
            "outcome": c.outcome,
            "wait_s": round(c.wait_s, 3),
            "talk_s": round(c.talk_s, 3),
        }
    if isinstance(c, cmd.ExitInteraction):
        return {
            "type": "exit",
            "at": now,
            "interaction_id": c.interaction_id,
            "queue": c.queue,
            "target": None if c.target is None else str(c.target),
            "reason": c.reason,
        }
    if isinstance(c, cmd.CancelOffer):
        return {
            "type": "offer_cancelled",
            "at": now,
            "offer_id": c.offer_id,
            "interaction_id": c.interaction_id,
            "agent_id": c.agent_id,
            "reason": c.reason,
        }
    return None
