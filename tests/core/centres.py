"""Small centres shared by the core tests."""

from __future__ import annotations

from cc_router.core.spec import (
    AgentSpec,
    CentreSpec,
    Channel,
    ExitTarget,
    ProfileSpec,
    QueueSpec,
    RoutingSpec,
    StepSpec,
    Strategy,
)

SKILLS = frozenset({"zh", "en", "billing", "sales", "vip"})

PROFILES = {
    "voice": ProfileSpec("voice"),
    "blended": ProfileSpec("blended", capacity={Channel.VOICE: 1, Channel.CHAT: 3, Channel.EMAIL: 2}),
    "backoffice": ProfileSpec("backoffice", capacity={Channel.EMAIL: 2, Channel.CHAT: 2}),
}


def centre(
    agents: list[AgentSpec],
    queues: list[QueueSpec],
    routing: RoutingSpec | None = None,
) -> CentreSpec:
    return CentreSpec(
        skills=SKILLS,
        profiles=PROFILES,
        agents=tuple(agents),
        queues=tuple(queues),
        routing=routing or RoutingSpec(),
    )


def small_centre(strategy: Strategy = Strategy.LONGEST_IDLE) -> CentreSpec:
    agents = [
        AgentSpec("a1", skills={"zh": 5, "billing": 3}),
        AgentSpec("a2", skills={"zh": 2, "sales": 4}),
        AgentSpec("a3", skills={"en": 4, "billing": 2}, profile="blended"),
        AgentSpec("a4", skills={"zh": 4, "en": 3, "vip": 1}, profile="blended"),
        AgentSpec("a5", skills={"zh": 1}, profile="backoffice"),
    ]
    queues = [
        QueueSpec(
            "billing_zh",
            requirement="zh >= 3 and billing >= 2",
            strategy=strategy,
            wrapup_s=5,
            steps=(StepSpec(30, "zh >= 2"), StepSpec(60, "zh or en", priority_boost=1)),
            max_wait_s=300,
            on_max_wait=ExitTarget.parse("voicemail:100"),
        ),
        QueueSpec("sales_zh", requirement="zh and sales", strategy=strategy),
        QueueSpec("english", requirement="en >= 3", strategy=strategy, priority=1),
        QueueSpec(
            "vip",
            requirement="vip",
            priority=5,
            strategy=strategy,
            steps=(StepSpec(10, "zh >= 4 or en >= 4"),),
        ),
        QueueSpec("chat_zh", channel=Channel.CHAT, requirement="zh", strategy=strategy, wrapup_s=2),
        QueueSpec("email", channel=Channel.EMAIL, requirement="true", strategy=strategy),
    ]
    return centre(agents, queues)
