"""A supervisor changes a waiting interaction's priority: its place follows at once."""

from __future__ import annotations

from cc_router.core import Router
from cc_router.core import commands as cmd
from cc_router.core import events as ev
from cc_router.core.spec import AgentSpec, QueueSpec

from .centres import centre


def two_queues() -> Router:
    agents = [AgentSpec("a", skills={"zh": 3, "billing": 3})]
    queues = [QueueSpec("billing", requirement="billing"), QueueSpec("general", requirement="zh")]
    return Router(centre(agents, queues))


def offered(out: list[cmd.Command]) -> list[str]:
    return [c.interaction_id for c in out if isinstance(c, cmd.Offer)]


def test_raised_priority_is_served_first_across_queues() -> None:
    r = two_queues()
    r.handle(ev.InteractionArrived("old", "billing"), 1)
    r.handle(ev.InteractionArrived("mid", "general"), 2)
    r.handle(ev.InteractionArrived("new", "general"), 3)
    assert r.position("new") == 2
    out = r.handle(ev.InteractionPriorityChanged("new", 5), 4)
    assert [c.reason for c in out if isinstance(c, cmd.InteractionQueued)] == ["reprioritised"]
    assert r.position("new") == 1
    assert r.interactions["new"].priority == 5
    # The one agent serves both queues: it takes "new" before the older callers of either.
    out = r.handle(ev.AgentLoggedIn("a"), 5)
    assert offered(out) == ["new"]


def test_lowered_priority_goes_behind_and_keeps_its_seniority() -> None:
    r = two_queues()
    r.handle(ev.InteractionArrived("x", "general", priority=2), 1)
    r.handle(ev.InteractionArrived("y", "general"), 2)
    r.handle(ev.InteractionArrived("z", "general"), 3)
    r.handle(ev.InteractionPriorityChanged("x", 0), 4)
    # Same priority as the others now: its arrival at 1 still puts it first.
    assert r.position("x") == 1
    r.handle(ev.InteractionPriorityChanged("x", -1), 5)
    assert [r.position(i) for i in ("y", "z", "x")] == [1, 2, 3]
    out = r.handle(ev.AgentLoggedIn("a"), 6)
    assert offered(out) == ["y"]


def test_a_free_agent_takes_it_at_once_when_it_becomes_eligible_first() -> None:
    r = two_queues()
    r.handle(ev.AgentLoggedIn("a"), 0)
    r.handle(ev.InteractionArrived("x", "general"), 1)
    r.handle(ev.OfferAccepted("x", "a"), 2)
    r.handle(ev.InteractionArrived("y", "general"), 3)
    r.handle(ev.InteractionArrived("w", "billing"), 4)
    r.handle(ev.InteractionPriorityChanged("w", 3), 5)
    out = r.handle(ev.InteractionEnded("x"), 6)
    assert offered(out) == ["w"]


def test_refused_when_not_waiting_or_unknown() -> None:
    r = two_queues()
    r.handle(ev.AgentLoggedIn("a"), 0)
    r.handle(ev.InteractionArrived("x", "general"), 1)
    r.handle(ev.OfferAccepted("x", "a"), 2)
    out = r.handle(ev.InteractionPriorityChanged("x", 4), 3)
    assert [c.reason for c in out if isinstance(c, cmd.EventRejected)] == ["interaction x is not waiting"]
    out = r.handle(ev.InteractionPriorityChanged("nobody", 4), 3)
    assert any(isinstance(c, cmd.EventRejected) for c in out)
