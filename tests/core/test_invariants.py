"""Thousands of random event sequences against the core's promises, and against a
reference router that decides by brute force."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cc_router.core import Router
from cc_router.core import commands as cmd
from cc_router.core import events as ev
from cc_router.core.expr import any_of, evaluate, parse
from cc_router.core.matching import Candidate
from cc_router.core.naive import NaiveRouter
from cc_router.core.spec import CentreSpec, Strategy
from cc_router.core.vocabulary import Presence, Stage, Trigger

from .centres import small_centre

AGENTS = ["a1", "a2", "a3", "a4", "a5"]
OPS = [
    "login",
    "login",
    "logout",
    "pause",
    "unpause",
    "device",
    "arrive",
    "arrive",
    "arrive",
    "abandon",
    "accept",
    "accept",
    "decline",
    "end",
    "end",
    "wrapdone",
    "move",
    "skills",
    "tick",
    "tick",
    "queue_priority",
    "transfer",
    "reprioritise",
]

op_st = st.tuples(st.sampled_from(OPS), st.integers(0, 50), st.integers(0, 50), st.floats(0, 40))


class AuditedRouter(Router):
    """Checks, at the moment of each offer, that the agent may take it."""

    def _offer(self, found: Candidate, trigger: Trigger) -> None:
        it, a = found.interaction, found.agent
        assert a.presence is Presence.READY, f"offer to {a.id} who is {a.presence}"
        assert it.channel in a.free_channels(), f"{a.id} has no free {it.channel}"
        assert it.stage is Stage.WAITING
        super()._offer(found, trigger)


def requirement_at(centre: CentreSpec, queue: str, step: int) -> object:
    spec = centre.queue(queue)
    assert spec is not None
    nodes = [parse(spec.requirement)] + [parse(s.requirement) for s in spec.steps[:step]]
    return any_of(nodes)


def to_event(router: Router, op: str, i: int, j: int, counter: list[int]) -> ev.Event:
    agent = AGENTS[i % len(AGENTS)]
    inters = sorted(router.interactions)
    pick = inters[j % len(inters)] if inters else "none"
    queues = [q.name for q in router.centre.queues]
    if op == "login":
        return ev.AgentLoggedIn(agent)
    if op == "logout":
        return ev.AgentLoggedOut(agent)
    if op == "pause":
        return ev.AgentPaused(agent, "break", max_s=[None, 10.0, 60.0][j % 3])
    if op == "unpause":
        return ev.AgentUnpaused(agent)
    if op == "device":
        return ev.AgentDeviceChanged(agent, in_use=bool(j % 2))
    if op == "arrive":
        counter[0] += 1
        return ev.InteractionArrived(f"c{counter[0]}", queues[j % len(queues)], priority=i % 3)
    if op == "abandon":
        return ev.InteractionAbandoned(pick)
    if op in ("accept", "decline"):
        offers = sorted(router.offers.values(), key=lambda o: o.offer_id)
        if not offers:
            return ev.Tick()
        o = offers[j % len(offers)]
        if op == "accept":
            return ev.OfferAccepted(o.interaction_id, o.agent_id)
        return ev.OfferDeclined(o.interaction_id, o.agent_id, "rejected")
    if op == "end":
        connected = sorted(i for i, r in router.interactions.items() if r.stage is Stage.CONNECTED)
        return ev.InteractionEnded(connected[j % len(connected)]) if connected else ev.Tick()
    if op == "wrapdone":
        return ev.AgentWrapUpDone(agent)
    if op == "move":
        return ev.InteractionMoved(pick, queues[i % len(queues)])
    if op == "reprioritise":
        return ev.InteractionPriorityChanged(pick, i % 7 - 3)
    if op == "skills":
        skills = [{"zh": 4, "billing": 2}, {"en": 5}, {"zh": 2, "vip": 1, "sales": 1}, {}]
        return ev.AgentSkillsChanged(agent, skills[j % len(skills)])
    if op == "transfer":
        connected = sorted(i for i, r in router.interactions.items() if r.stage is Stage.CONNECTED)
        if not connected:
            return ev.Tick()
        it = router.interactions[connected[j % len(connected)]]
        same = [q for q in queues if router.queues[q].spec.channel is it.channel]
        return ev.InteractionTransferred(it.id, same[i % len(same)], agent_id=None if i % 2 else agent)
    if op == "queue_priority":
        spec = router.centre.queues[i % len(queues)]
        return ev.QueueChanged(replace(spec, priority=j % 4))
    return ev.Tick()


def check_invariants(router: Router, out: list[cmd.Command], pending: dict[str, str]) -> None:
    centre = router.centre
    for c in out:
        if isinstance(c, cmd.CancelOffer | cmd.InteractionFinished | cmd.InteractionConnected):
            pending.pop(c.interaction_id, None)
        if isinstance(c, cmd.Offer):
            assert c.agent_id not in pending.values(), f"second pending offer to {c.agent_id}"
            assert c.interaction_id not in pending, f"{c.interaction_id} offered twice at once"
            a = router.agents[c.agent_id]
            req = requirement_at(centre, c.queue, c.explanation.step)
            # A transfer to a named agent is a person's choice, not a skills match.
            meets = evaluate(req, a.skills)  # type: ignore[arg-type]
            assert c.explanation.trigger == "direct" or meets, f"{c.agent_id} does not meet {req}"
            pending[c.interaction_id] = c.agent_id
    # Rebuild what is pending from the router itself and compare with what commands said.
    live = {o.interaction_id: o.agent_id for o in router.offers.values()}
    for iid in list(pending):
        if iid not in live:
            del pending[iid]
    assert pending == live
    for a in router.agents.values():
        for ch, cap in a.profile.capacity.items():
            assert a.load.get(ch, 0) <= cap, f"{a.id} holds {a.load.get(ch)} {ch} > {cap}"
        held = sum(1 for c in a.connected.values()) + len(a.wrapping)
        assert held == sum(a.load.values())
        if a.presence is not Presence.READY:
            assert a.offer is None or a.offer.offer_id in router.offers
    # No eligible interaction waits while an eligible agent is free.
    for it in router.interactions.values():
        if it.stage is not Stage.WAITING:
            continue
        if it.target_agent is not None:
            target = router.agents[it.target_agent]
            assert it.channel not in target.free_channels(), f"{it.id} waits for free {target.id}"
            continue
        req = requirement_at(centre, it.queue.name, it.step)
        for a in router.agents.values():
            if it.channel in a.free_channels() and evaluate(req, a.skills):  # type: ignore[arg-type]
                assert router._is_excluded(it, a.id), f"{it.id} waits while {a.id} is free"


def forget(event: ev.Event, pending: dict[str, str]) -> None:
    """An answer from the agent's side closes its offer before the core sees it."""
    if isinstance(event, ev.OfferDeclined | ev.OfferAccepted):
        pending.pop(event.interaction_id, None)


def decisions(out: list[cmd.Command]) -> list[tuple[str, ...]]:
    keep: list[tuple[str, ...]] = []
    for c in out:
        if isinstance(c, cmd.Offer):
            keep.append(("offer", c.interaction_id, c.agent_id, str(c.explanation.step)))
        elif isinstance(c, cmd.InteractionFinished):
            keep.append(("finished", c.interaction_id, c.outcome))
        elif isinstance(c, cmd.AgentStateChanged):
            keep.append(("state", c.agent_id, c.state, c.reason))
        elif isinstance(c, cmd.ExitInteraction | cmd.CancelOffer | cmd.EventRejected):
            keep.append((type(c).__name__,))
    return keep


def run(ops: list[tuple[str, int, int, float]], strategy: Strategy) -> None:
    fast = AuditedRouter(small_centre(strategy))
    slow = NaiveRouter(small_centre(strategy))
    now = 0.0
    counter = [0]
    pending: dict[str, str] = {}
    for op, i, j, dt in ops:
        now += dt if op == "tick" else 0.5
        event = to_event(fast, op, i, j, counter)
        forget(event, pending)
        out = fast.handle(event, now)
        check_invariants(fast, out, pending)
        assert decisions(out) == decisions(slow.handle(event, now)), f"diverged at {event}"


@settings(max_examples=5000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(op_st, min_size=5, max_size=120),
    st.sampled_from(
        [
            Strategy.LONGEST_IDLE,
            Strategy.FEWEST_INTERACTIONS,
            Strategy.ROUND_ROBIN,
            Strategy.LINEAR,
            Strategy.BEST_SKILL,
        ]
    ),
)
def test_invariants_and_same_decisions_as_brute_force(
    ops: list[tuple[str, int, int, float]], strategy: Strategy
) -> None:
    run(ops, strategy)


@settings(max_examples=500, deadline=None)
@given(
    st.lists(op_st, min_size=5, max_size=120), st.sampled_from([Strategy.RANDOM, Strategy.WEIGHTED_RANDOM])
)
def test_invariants_hold_for_random_strategies(
    ops: list[tuple[str, int, int, float]], strategy: Strategy
) -> None:
    router = AuditedRouter(small_centre(strategy))
    now = 0.0
    counter = [0]
    pending: dict[str, str] = {}
    for op, i, j, dt in ops:
        now += dt if op == "tick" else 0.5
        event = to_event(router, op, i, j, counter)
        forget(event, pending)
        out = router.handle(event, now)
        check_invariants(router, out, pending)
