"""A node that cannot be reached: NodeDown once, NodeUp once, its callers dropped."""

from __future__ import annotations

from cc_router.adapters.ami.effects import DropCaller
from cc_router.adapters.ami.outage import Outage, caller_dropped, drop_all
from cc_router.adapters.ami.registry import AgentLeg, CallerLeg, CallerStage, LegState, Registry
from cc_router.core import events as ev


def test_down_and_up_are_told_once_each() -> None:
    o = Outage("node2")
    assert o.node_lost() == (ev.NodeDown("node2"),)
    assert o.node_lost() == ()  # every failed reconnect calls it again
    assert o.lost
    assert o.node_back() == (ev.NodeUp("node2"),)
    assert o.node_back() == () and not o.lost


def test_callers_of_a_lost_node_are_dropped_not_abandoned() -> None:
    r = Registry("t")
    waiting = CallerLeg("n2.1", "1", "PJSIP/trunk-1", "30086", "q", "139", "")
    talking = CallerLeg("n2.2", "2", "PJSIP/trunk-2", "30086", "q", "139", "", CallerStage.CONNECTED)
    talking.agent_leg = AgentLeg("o1", "n2.2", "a1", "q", "c1", "c1-2", "x1", 0.0, LegState.ANSWERED)
    gone = CallerLeg("n2.3", "3", "PJSIP/trunk-3", "999", "", "139", "", CallerStage.DONE)
    for c in (waiting, talking):
        r.add_caller(c)
    r.add_caller(gone, routed=False)
    outage = Outage("node2")
    out = list(drop_all(r, outage))
    assert [e for e in out if isinstance(e, ev.InteractionDropped)] == [
        ev.InteractionDropped("n2.1"),
        ev.InteractionDropped("n2.2"),
    ]
    assert sum(isinstance(e, DropCaller) for e in out) == 3
    assert talking.agent_leg.state is LegState.DONE
    assert outage.dropped == {"1", "2"}  # never admitted again should they be found on hold
    # already dropped: nothing more to tell the core
    [again] = caller_dropped(waiting)
    assert isinstance(again, DropCaller) and again.caller is waiting
