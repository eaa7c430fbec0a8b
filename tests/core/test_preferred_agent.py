"""An arrival for one agent first (a customer's answer to the agent who served them):
offered to that agent only, then to the queue after the wait, a decline, or at once when
that agent is logged out; the wait counts from arrival."""

from __future__ import annotations

from cc_router.core import Router
from cc_router.core import commands as cmd
from cc_router.core import events as ev
from cc_router.core.spec import AgentSpec, QueueSpec, RoutingSpec
from cc_router.core.vocabulary import QueueReason, Trigger

from .centres import centre
from .test_router_scenarios import Harness


def harness() -> Harness:
    agents = [AgentSpec(a, skills={"zh": 1}) for a in ("a", "b")]
    h = Harness(Router(centre(agents, [QueueSpec("q", requirement="zh")], RoutingSpec(direct_fallback_s=99))))
    return h


def test_free_preferred_agent_is_offered_first() -> None:
    h = harness()
    h.at(0, ev.AgentLoggedIn("a"))
    h.at(1, ev.AgentLoggedIn("b"))  # b is free longest-idle-wise after a
    h.at(5, ev.InteractionArrived("x", "q", agent_id="b", agent_wait_s=20))
    assert h.offers() == [("x", "b")]
    [queued] = h.of(cmd.InteractionQueued)
    assert queued.reason is QueueReason.PREFERRED_AGENT and queued.original_position == 1
    assert h.of(cmd.Offer)[0].explanation.trigger is Trigger.DIRECT


def test_busy_preferred_agent_then_the_queue_after_the_wait() -> None:
    h = harness()
    h.at(0, ev.AgentLoggedIn("a"))
    h.at(0, ev.AgentLoggedIn("b"))
    h.at(1, ev.InteractionArrived("y", "q", agent_id="b"))
    h.at(2, ev.OfferAccepted("y", "b"))
    h.at(3, ev.InteractionArrived("x", "q", agent_id="b", agent_wait_s=20))
    assert h.offers() == []  # a is free, but x is for b first
    h.at(10, ev.Tick())
    assert h.offers() == []
    h.at(23, ev.Tick())
    assert [c.reason for c in h.of(cmd.InteractionQueued)] == [QueueReason.DIRECT_FALLBACK]
    assert h.offers() == [("x", "a")]
    h.at(24, ev.OfferAccepted("x", "a"))
    [connected] = h.of(cmd.InteractionConnected)
    assert connected.wait_s == 21  # from arrival, not from the fallback


def test_declined_by_the_preferred_agent_goes_to_the_queue() -> None:
    h = harness()
    h.at(0, ev.AgentLoggedIn("a"))
    h.at(0, ev.AgentLoggedIn("b"))
    h.at(1, ev.InteractionArrived("x", "q", agent_id="b", agent_wait_s=60))
    assert h.offers() == [("x", "b")]
    h.at(2, ev.OfferDeclined("x", "b", "rejected"))
    assert h.offers() == [("x", "a")]


def test_logged_out_or_unknown_preferred_agent_means_the_queue_at_once() -> None:
    h = harness()
    h.at(0, ev.AgentLoggedIn("a"))
    h.at(1, ev.InteractionArrived("x", "q", agent_id="b", agent_wait_s=60))
    assert h.offers() == [("x", "a")]
    assert h.of(cmd.InteractionQueued)[0].reason is QueueReason.ARRIVED
    h.at(2, ev.InteractionArrived("y", "q", agent_id="nobody"))
    assert h.of(cmd.InteractionQueued)[0].reason is QueueReason.ARRIVED
