"""Hand-built core commands for store tests."""

from __future__ import annotations

from cc_router.core.commands import AgentStateChanged, Explanation, InteractionFinished, Offer
from cc_router.core.spec import Channel

T0 = 1_700_000_100.0
"""2023-11-14T22:15:00Z: on a 15-minute boundary."""


def explanation(chosen: str = "a1") -> Explanation:
    return Explanation(
        trigger="arrival",
        queue="billing_zh",
        strategy="longest_idle",
        step=0,
        requirement="zh >= 3 and billing >= 2",
        chosen=chosen,
        score=(42.0, 1.0),
        candidates=((chosen, (42.0, 1.0)), ("a9", (7.5, 2.0))),
        excluded=(("a7", "missed recently"),),
        available=2,
    )


def finished(
    iid: str,
    *,
    queue: str = "billing_zh",
    outcome: str = "answered",
    wait_s: float = 10.0,
    talk_s: float = 60.0,
    enqueued_at: float = T0,
    caller: str = "王小明",
    agent_id: str | None = "a1",
    channel: Channel = Channel.VOICE,
    disposition: str = "",
) -> InteractionFinished:
    answered = outcome in ("answered", "transferred")
    answered_at = enqueued_at + wait_s if answered else None
    return InteractionFinished(
        interaction_id=iid,
        queue=queue,
        channel=channel,
        caller=caller,
        outcome=outcome,
        agent_id=agent_id if answered else None,
        enqueued_at=enqueued_at,
        offered_at=enqueued_at + max(0.0, wait_s - 2) if answered else None,
        answered_at=answered_at,
        ended_at=(answered_at + talk_s) if answered_at is not None else enqueued_at + wait_s,
        wait_s=wait_s,
        talk_s=talk_s if answered else 0.0,
        step=0,
        misses=0,
        disposition=disposition,
        explanation=explanation() if answered else None,
    )


def offer(iid: str, agent: str = "a1", n: int = 1) -> Offer:
    return Offer(f"o{n}", iid, agent, "billing_zh", Channel.VOICE, 15.0, explanation(agent))


def state(
    agent: str, state: str, at: float, previous: str, since: float, reason: str = ""
) -> AgentStateChanged:
    return AgentStateChanged(agent, state, reason, at, previous, since)
