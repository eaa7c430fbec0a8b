"""The core across Asterisk nodes: locality per queue, trunk limits, node down and up,
calls the PBX dropped, and what the explanation says about a remote agent."""

from __future__ import annotations

from dataclasses import replace

from cc_router.core import Router
from cc_router.core import commands as cmd
from cc_router.core import events as ev
from cc_router.core.spec import AgentSpec, QueueSpec, Strategy, TopologySpec, TrunkSpec
from cc_router.core.topology import NODE_ATTRIBUTE
from cc_router.core.vocabulary import AgentState, Locality, Outcome, RemoteChoice
from tests.core.centres import centre

POOLS = {"p1": "n1", "p2": "n2"}


def make(
    locality: Locality = Locality.PREFER,
    max_calls: int | None = None,
    strategy: Strategy = Strategy.LONGEST_IDLE,
    trunk: bool = True,
) -> Router:
    agents = [
        AgentSpec("r1", pool="p2", skills={"zh": 5}),
        AgentSpec("r2", pool="p2", skills={"zh": 5}),
        AgentSpec("l1", pool="p1", skills={"zh": 2}),
    ]
    q = QueueSpec("q", requirement="zh", strategy=strategy, locality=locality, wrapup_s=0)
    spec = centre(agents, [q])
    trunks = (TrunkSpec("n2", "n1", max_calls),) if trunk else ()
    return Router(replace(spec, topology=TopologySpec(pool_node=POOLS, trunks=trunks)))


def arrive(r: Router, iid: str, node: str, now: float) -> list[cmd.Command]:
    return r.handle(ev.InteractionArrived(iid, "q", attributes={NODE_ATTRIBUTE: node}), now)


def offers(out: list[cmd.Command]) -> list[cmd.Offer]:
    return [c for c in out if isinstance(c, cmd.Offer)]


def login(r: Router, *agents: str, now: float = 0.0) -> None:
    for a in agents:
        r.handle(ev.AgentLoggedIn(a), now)


def test_prefer_takes_the_local_agent_even_if_a_remote_one_idles_longer() -> None:
    r = make()
    login(r, "r1", now=0.0)  # idle the longest
    login(r, "l1", now=5.0)
    [o] = offers(arrive(r, "c1", "n1", 10.0))
    assert o.agent_id == "l1"
    assert o.explanation.remote is None and o.explanation.route == ""


def test_prefer_takes_a_remote_agent_when_none_is_free_locally_and_says_why() -> None:
    r = make()
    login(r, "r1")
    [o] = offers(arrive(r, "c1", "n1", 10.0))
    assert o.agent_id == "r1"
    assert o.explanation.remote is RemoteChoice.NO_LOCAL_AGENT
    assert o.explanation.route == "n1->n2"
    assert "remote n1->n2 (no_local_agent)" in o.explanation.summary()


def test_prefer_under_best_skill_lets_a_better_remote_agent_win() -> None:
    r = make(strategy=Strategy.BEST_SKILL)
    login(r, "r1", "l1")
    [o] = offers(arrive(r, "c1", "n1", 10.0))
    assert o.agent_id == "r1"  # zh 5 against the local zh 2: not equally good
    assert o.explanation.remote is RemoteChoice.BETTER_REMOTE


def test_off_lets_the_strategy_alone_decide() -> None:
    r = make(locality=Locality.OFF)
    login(r, "r1", now=0.0)
    login(r, "l1", now=5.0)
    [o] = offers(arrive(r, "c1", "n1", 10.0))
    assert o.agent_id == "r1"
    assert o.explanation.remote is RemoteChoice.LOCALITY_OFF


def test_only_never_offers_a_remote_agent_and_waits_for_a_local_one() -> None:
    r = make(locality=Locality.ONLY)
    login(r, "r1")
    assert offers(arrive(r, "c1", "n1", 10.0)) == []
    assert r.position("c1") == 1
    out = r.handle(ev.AgentLoggedIn("l1"), 11.0)
    assert [o.agent_id for o in offers(out)] == ["l1"]


def test_no_trunk_no_remote_offer() -> None:
    r = make(trunk=False)
    login(r, "r1")
    assert offers(arrive(r, "c1", "n1", 10.0)) == []


def test_trunk_max_calls_is_never_exceeded_and_frees_when_a_call_ends() -> None:
    r = make(max_calls=1)
    login(r, "r1", "r2")
    [o1] = offers(arrive(r, "c1", "n1", 1.0))
    assert o1.agent_id in {"r1", "r2"}
    assert offers(arrive(r, "c2", "n1", 2.0)) == []  # the trunk is full, the other agent free
    # a caller on the agents' own node needs no trunk
    [o3] = offers(arrive(r, "c3", "n2", 3.0))
    assert o3.agent_id != o1.agent_id and o3.explanation.route == ""
    r.handle(ev.OfferAccepted("c1", o1.agent_id), 4.0)
    out = r.handle(ev.InteractionEnded("c1", "agent_hangup"), 10.0)
    # o1's agent is free again and the trunk has room: c2 goes over it
    assert [(o.interaction_id, o.agent_id) for o in offers(out)] == [("c2", o1.agent_id)]
    assert offers(out)[0].explanation.remote is RemoteChoice.AGENT_FREED


def test_trunk_full_shows_in_the_exclusions() -> None:
    r = make(max_calls=1, strategy=Strategy.BEST_SKILL)
    login(r, "r1", "r2", "l1")
    [o1] = offers(arrive(r, "c1", "n1", 1.0))
    assert o1.explanation.remote is RemoteChoice.BETTER_REMOTE
    [o2] = offers(arrive(r, "c2", "n1", 2.0))
    assert o2.agent_id == "l1"  # the better remote agent is behind a full trunk
    assert any("trunk n1-n2 full (1 calls)" in why for _, why in o2.explanation.excluded)


def test_declined_remote_offer_frees_the_trunk() -> None:
    r = make(max_calls=1)
    login(r, "r1")
    [o] = offers(arrive(r, "c1", "n1", 1.0))
    out = r.handle(ev.OfferDeclined("c1", "r1", "no_answer"), 3.0)
    assert offers(out) == []  # r1 missed it (excluded); nobody else
    login(r, "r2", now=4.0)
    assert r.agent_state("r2") is AgentState.RESERVED  # the trunk had room again
    assert o.agent_id == "r1"


def test_node_down_makes_its_agents_unavailable_then_back() -> None:
    r = make()
    login(r, "r1", "l1")
    out = r.handle(ev.NodeDown("n2"), 1.0)
    changed = [c for c in out if isinstance(c, cmd.AgentStateChanged)]
    assert [(c.agent_id, c.state) for c in changed] == [("r1", AgentState.UNAVAILABLE)]
    assert r.agent_state("l1") is AgentState.READY
    [o] = offers(arrive(r, "c1", "n1", 2.0))
    assert o.agent_id == "l1"
    assert offers(arrive(r, "c2", "n1", 3.0)) == []  # r1 is unavailable: c2 waits
    out = r.handle(ev.NodeUp("n2"), 4.0)
    assert [(o.interaction_id, o.agent_id) for o in offers(out)] == [("c2", "r1")]
    assert r.agent_state("r2") is AgentState.LOGGED_OUT  # nobody was logged in on its behalf


def test_dropped_by_the_pbx_is_its_own_outcome_waiting_ringing_and_connected() -> None:
    r = make()
    login(r, "r1")
    arrive(r, "c1", "n2", 1.0)  # offered to r1
    arrive(r, "c2", "n2", 1.5)  # waits
    out = r.handle(ev.InteractionDropped("c2"), 2.0)
    [f] = [c for c in out if isinstance(c, cmd.InteractionFinished)]
    assert f.outcome is Outcome.PBX_DROPPED
    r.handle(ev.OfferAccepted("c1", "r1"), 3.0)
    out = r.handle(ev.InteractionDropped("c1"), 5.0)
    [f] = [c for c in out if isinstance(c, cmd.InteractionFinished)]
    assert (f.outcome, f.disposition) == (Outcome.ANSWERED, Outcome.PBX_DROPPED)
    arrive(r, "c3", "n2", 6.0)
    out = r.handle(ev.InteractionDropped("c3"), 7.0)
    assert [c.reason for c in out if isinstance(c, cmd.CancelOffer)] == ["caller_gone"]
    [f] = [c for c in out if isinstance(c, cmd.InteractionFinished)]
    assert f.outcome is Outcome.PBX_DROPPED
    assert r.agent_state("r1") is AgentState.READY  # no miss, no pause


def test_one_node_is_unchanged_by_node_events() -> None:
    agents = [AgentSpec("a1", skills={"zh": 1})]
    r = Router(centre(agents, [QueueSpec("q", requirement="zh")]))
    login(r, "a1")
    r.handle(ev.NodeDown("sandbox"), 1.0)
    assert r.agent_state("a1") is AgentState.READY


def test_trunk_down_then_up() -> None:
    r = make()
    login(r, "r1")
    r.handle(ev.TrunkDown("n1", "n2"), 0.5)
    assert offers(arrive(r, "c1", "n1", 1.0)) == []  # r1 free, but its trunk is down
    [o2] = offers(arrive(r, "c2", "n2", 2.0))  # a caller on r1's own node needs no trunk
    assert o2.agent_id == "r1"
    login(r, "r2", now=3.0)
    out = r.handle(ev.TrunkUp("n2", "n1"), 4.0)
    assert [(o.interaction_id, o.agent_id) for o in offers(out)] == [("c1", "r2")]


def test_callers_of_a_node_that_is_down_wait_and_are_offered_again_when_it_is_back() -> None:
    r = make()
    login(r, "l1")
    r.handle(ev.NodeDown("n2"), 1.0)
    # no agent leg can be placed on n2 now: l1 (on n1, free) is not offered its caller
    assert offers(arrive(r, "c2", "n2", 2.0)) == []
    [o] = offers(arrive(r, "c1", "n1", 3.0))
    assert (o.interaction_id, o.agent_id) == ("c1", "l1")
    r.handle(ev.OfferAccepted("c1", "l1"), 3.5)
    r.handle(ev.InteractionEnded("c1", "agent_hangup"), 4.0)
    assert r.position("c2") == 1
    out = r.handle(ev.NodeUp("n2"), 5.0)
    assert [(o.interaction_id, o.agent_id) for o in offers(out)] == [("c2", "l1")]


def test_an_offer_ringing_another_node_is_given_back_when_the_callers_node_goes() -> None:
    r = make(max_calls=1)
    login(r, "l1")
    [o] = offers(arrive(r, "c2", "n2", 1.0))  # the caller on n2, its agent on n1
    out = r.handle(ev.NodeDown("n2"), 2.0)
    assert [(c.offer_id, c.reason) for c in out if isinstance(c, cmd.CancelOffer)] == [
        (o.offer_id, "node_down")
    ]
    assert r.agent_state("l1") is AgentState.READY  # not the agent's miss
    assert r.position("c2") == 1
    # the trunk slot is free again: a caller on n1 is served by l1 meanwhile
    [o1] = offers(arrive(r, "c1", "n1", 3.0))
    assert o1.agent_id == "l1"
