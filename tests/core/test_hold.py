"""Hold time: the seconds an agent keeps a connected caller on hold, on the visit's record."""

from __future__ import annotations

from cc_router.core import Router
from cc_router.core import commands as cmd
from cc_router.core import events as ev
from cc_router.core.spec import QueueSpec, Strategy
from cc_router.core.vocabulary import RejectCode

from .centres import centre
from .test_router_scenarios import Harness, simple, zh


def connected(at: float = 10.0) -> Harness:
    h = simple(Strategy.LONGEST_IDLE, [zh("a"), zh("b")])
    h.at(1, ev.AgentLoggedIn("a"))
    h.at(2, ev.InteractionArrived("x", "q"))
    h.at(at, ev.OfferAccepted("x", "a"))
    return h


def finished(h: Harness) -> cmd.InteractionFinished:
    [f] = h.of(cmd.InteractionFinished)
    return f


def test_two_holds_add_up_and_are_part_of_talk() -> None:
    h = connected()
    h.at(20, ev.InteractionHeld("x"))
    h.at(50, ev.InteractionResumed("x"))
    h.at(60, ev.InteractionHeld("x"))
    h.at(61, ev.InteractionHeld("x"))  # music restarted: still the hold that began at 60
    h.at(75, ev.InteractionResumed("x"))
    h.at(75.5, ev.InteractionResumed("x"))  # not on hold: nothing to add
    h.at(100, ev.InteractionEnded("x", "agent_hangup"))
    f = finished(h)
    assert f.hold_s == 30 + 15
    assert f.talk_s == 90


def test_hang_up_while_held_counts_the_hold_up_to_the_end() -> None:
    h = connected()
    h.at(40, ev.InteractionHeld("x"))
    h.at(100, ev.InteractionAbandoned("x"))  # the caller gave up on hold
    assert finished(h).hold_s == 60


def test_a_call_never_held_has_none() -> None:
    h = connected()
    h.at(30, ev.InteractionEnded("x"))
    assert finished(h).hold_s == 0.0


def test_hold_is_refused_for_a_caller_not_connected() -> None:
    h = simple(Strategy.LONGEST_IDLE, [zh("a")])
    h.at(1, ev.InteractionArrived("x", "q"))
    [rejected] = h.at(2, ev.InteractionHeld("x"))
    assert isinstance(rejected, cmd.EventRejected) and rejected.code is RejectCode.NOT_CONNECTED
    [rejected] = h.at(3, ev.InteractionResumed("nobody"))
    assert isinstance(rejected, cmd.EventRejected) and rejected.code is RejectCode.UNKNOWN_INTERACTION
    h.at(4, ev.AgentLoggedIn("a"))
    h.at(5, ev.OfferAccepted("x", "a"))
    h.at(9, ev.InteractionEnded("x"))
    assert finished(h).hold_s == 0.0  # the refused hold left nothing behind


def test_a_transfer_closes_the_first_agents_hold_and_the_next_visit_starts_at_zero() -> None:
    queues = [QueueSpec("q", requirement="zh"), QueueSpec("q2", requirement="zh")]
    h = Harness(Router(centre([zh("a"), zh("b")], queues)))
    h.at(1, ev.AgentLoggedIn("a"))
    h.at(2, ev.InteractionArrived("x", "q"))
    h.at(10, ev.OfferAccepted("x", "a"))
    h.at(20, ev.InteractionHeld("x"))
    h.at(30, ev.InteractionTransferred("x", "q2", agent_id="b"))
    first = finished(h)
    assert (first.queue, first.agent_id, first.hold_s) == ("q", "a", 10)
    h.at(31, ev.AgentLoggedIn("b"))
    h.at(32, ev.OfferAccepted("x", "b"))
    h.at(40, ev.InteractionHeld("x"))
    h.at(45, ev.InteractionResumed("x"))
    h.at(50, ev.InteractionEnded("x"))
    second = finished(h)
    assert (second.queue, second.agent_id, second.hold_s) == ("q2", "b", 5)
