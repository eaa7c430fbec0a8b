"""A checked `Config` as the routing core's `CentreSpec`."""

from __future__ import annotations

from collections.abc import Iterator

from cc_router.config.models import DEFAULT_ENDPOINT_TEMPLATE, Config, ProfileConfig
from cc_router.core.spec import (
    AgentSpec,
    CentreSpec,
    ProfileSpec,
    QueueSpec,
    RoutingSpec,
    StepSpec,
    TopologySpec,
    TrunkSpec,
    default_blocks,
)


def _profile_spec(name: str, p: ProfileConfig) -> ProfileSpec:
    blocks = default_blocks() if p.blocks is None else {ch: frozenset(b) for ch, b in p.blocks.items()}
    return ProfileSpec(name=name, capacity=dict(p.capacity), blocks=blocks)


def iter_agents(config: Config) -> Iterator[AgentSpec]:
    """Explicit agents then expanded groups, in file order, with endpoints filled in."""
    pools = config.all_pools()

    def template(pool: str) -> str:
        p = pools.get(pool)
        return p.endpoint_template if p is not None else DEFAULT_ENDPOINT_TEMPLATE

    for a in config.agents:
        endpoint = a.endpoint if a.endpoint is not None else template(a.pool).format(id=a.id, n=1)
        yield AgentSpec(a.id, a.name, a.pool, a.profile, dict(a.skills), a.weight, endpoint)
    for g in config.agent_groups:
        tmpl = g.endpoint_template or template(g.pool)
        # One mapping shared by the group: AgentSpec is frozen and the core never mutates it.
        skills = dict(g.skills)
        for n, (aid, name) in enumerate(g.expand(), start=1):
            yield AgentSpec(aid, name, g.pool, g.profile, skills, g.weight, tmpl.format(id=aid, n=n))


def build_centre(config: Config) -> CentreSpec:
    """The `CentreSpec` for the routing core (assumes `config` passed `check`)."""
    profiles = {name: _profile_spec(name, p) for name, p in config.all_profiles().items()}
    queues = tuple(
        QueueSpec(
            name=q.name,
            channel=q.channel,
            requirement=q.requirement,
            priority=q.priority,
            strategy=q.strategy,
            service_level_s=q.service_level_s,
            wrapup_s=q.wrapup_s,
            ring_timeout_s=q.ring_timeout_s,
            max_wait_s=q.max_wait_s,
            max_length=q.max_length,
            on_max_wait=q.on_max_wait,
            on_max_length=q.on_max_length,
            on_empty=q.on_empty,
            steps=tuple(StepSpec(s.after_s, s.requirement, s.priority_boost) for s in q.steps),
            callback=q.callback.policy() if q.callback is not None else None,
            locality=q.locality,
        )
        for q in config.queues
    )
    r = config.routing
    return CentreSpec(
        skills=config.skill_names,
        profiles=profiles,
        agents=tuple(iter_agents(config)),
        queues=queues,
        routing=RoutingSpec(
            max_misses=r.max_misses,
            miss_pause_reason=r.miss_pause_reason,
            miss_exclusion_s=r.miss_exclusion_s,
            direct_fallback_s=r.direct_fallback_s,
            offer_grace_s=r.offer_grace_s,
            seed=r.seed,
            timezone=config.centre.timezone,
        ),
        topology=topology_of(config),
    )


def topology_of(config: Config) -> TopologySpec:
    """Seat pools' nodes and the trunks; with fewer than two nodes nothing for the core to do."""
    if len(config.asterisk) < 2:
        return TopologySpec()
    pool_node = {name: node for name in config.all_pools() if (node := config.node_of_pool(name))}
    trunks = tuple(TrunkSpec(t.nodes[0], t.nodes[1], t.max_calls) for t in config.trunks)
    return TopologySpec(pool_node=pool_node, trunks=trunks)


def summary(config: Config) -> str:
    """One line for `check-config` and startup logs."""
    agents = len(config.agents) + sum(g.count for g in config.agent_groups)
    return (
        f"{config.source}: OK: {agents} agents, {len(config.skills)} skills, {len(config.queues)} queues, "
        f"{len(config.all_pools())} seat pools, {len(config.numbers)} numbers, "
        f"{len(config.asterisk)} Asterisk nodes, {len(config.campaigns)} campaigns"
    )
