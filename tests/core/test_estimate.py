"""Expected wait from the router's live state (`cc_router.core.estimate`)."""

from __future__ import annotations

import pytest

from cc_router.core import Router
from cc_router.core import events as ev
from cc_router.core.estimate import Estimator
from cc_router.core.spec import AgentSpec, QueueSpec, StepSpec

from .centres import centre


class Floor:
    """A router and its estimator, fed together the way the service feeds them."""

    def __init__(self, agents: list[AgentSpec], queues: list[QueueSpec]) -> None:
        self.router = Router(centre(agents, queues))
        self.est = Estimator(self.router, default_talk_s=60.0)

    def at(self, now: float, event: ev.Event) -> None:
        self.est.expect(event)
        self.est.observe(self.router.handle(event, now))

    def ewt(self, iid: str, now: float) -> float | None:
        return self.est.expected_wait(iid, now)


def zh(aid: str, **skills: int) -> AgentSpec:
    return AgentSpec(aid, skills={"zh": 1, **skills})


def busy_pair(talk: float = 90.0) -> Floor:
    """Agents a and b, each has handled one 90 s call with 10 s wrap-up, and is busy again."""
    f = Floor([zh("a"), zh("b")], [QueueSpec("q", requirement="zh", wrapup_s=10)])
    f.at(0, ev.AgentLoggedIn("a"))
    f.at(0, ev.AgentLoggedIn("b"))
    f.at(1, ev.InteractionArrived("w1", "q"))
    f.at(1, ev.InteractionArrived("w2", "q"))
    f.at(2, ev.OfferAccepted("w1", "a"))
    f.at(2, ev.OfferAccepted("w2", "b"))
    f.at(2 + talk, ev.InteractionEnded("w1"))
    f.at(2 + talk, ev.InteractionEnded("w2"))
    f.at(12 + talk, ev.Tick())  # wrap-up over
    f.at(200, ev.InteractionArrived("w3", "q"))
    f.at(200, ev.InteractionArrived("w4", "q"))
    f.at(201, ev.OfferAccepted("w3", "a"))
    f.at(201, ev.OfferAccepted("w4", "b"))
    return f


def test_unknown_without_a_working_agent() -> None:
    f = Floor([zh("a")], [QueueSpec("q", requirement="zh")])
    f.at(0, ev.InteractionArrived("x", "q"))
    assert f.ewt("x", 1) is None
    assert f.est.expected_wait_new("q", 1) is None
    f.at(2, ev.AgentLoggedIn("a"))
    f.at(3, ev.AgentPaused("a", "lunch"))
    f.at(4, ev.InteractionArrived("y", "q"))
    assert f.ewt("y", 5) is None  # nobody who could take it is working


def test_wait_grows_with_the_place_in_line_at_the_pool_rate() -> None:
    f = busy_pair()
    for n in range(1, 4):
        f.at(210 + n, ev.InteractionArrived(f"c{n}", "q"))
    # Two agents, 90 s talk + 10 s wrap-up each: one frees up every 50 s.
    assert f.ewt("c1", 220) == pytest.approx(50.0, abs=1)
    assert f.ewt("c2", 220) == pytest.approx(100.0, abs=1)
    assert f.ewt("c3", 220) == pytest.approx(150.0, abs=1)
    assert f.est.expected_wait_new("q", 220) == pytest.approx(200.0, abs=1)
    assert f.est.expected_waits(220) == {
        "c1": f.ewt("c1", 220),
        "c2": f.ewt("c2", 220),
        "c3": f.ewt("c3", 220),
    }


def test_free_agent_means_no_wait_and_offered_means_no_figure() -> None:
    f = Floor([zh("a")], [QueueSpec("q", requirement="zh")])
    f.at(0, ev.AgentLoggedIn("a"))
    assert f.est.expected_wait_new("q", 1) == 0.0
    f.at(1, ev.InteractionArrived("x", "q"))
    assert f.ewt("x", 1) is None  # it is ringing the agent, not waiting


def test_priority_change_moves_the_estimate() -> None:
    f = busy_pair()
    f.at(211, ev.InteractionArrived("c1", "q"))
    f.at(212, ev.InteractionArrived("c2", "q"))
    assert f.ewt("c2", 220) == pytest.approx(100.0, abs=1)
    f.at(213, ev.InteractionPriorityChanged("c2", 3))
    assert f.ewt("c2", 220) == pytest.approx(50.0, abs=1)
    assert f.ewt("c1", 220) == pytest.approx(100.0, abs=1)


def test_callers_of_other_queues_ahead_count_by_the_agents_they_share() -> None:
    agents = [zh("a", billing=1), zh("b")]
    queues = [
        QueueSpec("billing", requirement="billing", priority=1),
        QueueSpec("general", requirement="zh"),
    ]
    f = Floor(agents, queues)
    f.at(0, ev.AgentLoggedIn("a"))
    f.at(0, ev.AgentLoggedIn("b"))
    f.at(1, ev.InteractionArrived("g1", "general"))
    f.at(1, ev.InteractionArrived("g2", "general"))
    f.at(2, ev.OfferAccepted("g1", "a"))
    f.at(2, ev.OfferAccepted("g2", "b"))
    f.at(3, ev.InteractionArrived("x", "general"))
    alone = f.ewt("x", 4)
    assert alone is not None
    # A billing caller (higher priority) is served only by a, who also serves general:
    # all of billing's agents are general's, so it counts as one whole caller ahead.
    f.at(5, ev.InteractionArrived("bill", "billing"))
    ahead = f.ewt("x", 5)
    assert ahead is not None and ahead == pytest.approx(2 * alone, rel=0.05)
    # general's callers are served by a and b; billing shares only a with them.
    billing = f.ewt("bill", 5)
    assert billing is not None and billing == pytest.approx(alone * 2, rel=0.05)


def test_a_wider_escalation_step_caps_the_estimate() -> None:
    agents = [zh("a", billing=1), zh("b"), zh("c"), zh("d")]
    queues = [QueueSpec("billing", requirement="billing", steps=(StepSpec(30, "zh"),))]
    f = Floor(agents, queues)
    f.at(0, ev.AgentLoggedIn("a"))
    f.at(1, ev.InteractionArrived("first", "billing"))
    f.at(2, ev.OfferAccepted("first", "a"))
    for n in range(5):
        f.at(3 + n, ev.InteractionArrived(f"c{n}", "billing"))
    narrow = f.ewt("c4", 10)  # only a serves step 0: five ahead of one agent
    for aid in "bcd":
        f.at(11, ev.AgentLoggedIn(aid))
    # b, c and d are free, but c4 reaches them only at its step, 30 s after joining.
    # (c0..c2 escalate first and take them; c4 is behind those and "first" is talking.)
    wide = f.ewt("c4", 11)
    assert narrow is not None and wide is not None
    assert wide < narrow
    assert wide >= 30 - (11 - 7)


def test_hang_ups_ahead_shorten_the_wait() -> None:
    f = busy_pair()
    for n in range(1, 6):
        f.at(210 + n, ev.InteractionArrived(f"c{n}", "q"))
    patient = f.ewt("c5", 220)
    # Callers of this queue have been hanging up after about 30 s.
    f.at(221, ev.InteractionArrived("gone1", "q"))
    f.at(251, ev.InteractionAbandoned("gone1"))
    f.at(252, ev.InteractionArrived("gone2", "q"))
    f.at(282, ev.InteractionAbandoned("gone2"))
    impatient = f.ewt("c5", 282)
    assert patient is not None and impatient is not None
    assert impatient < patient - 30
