"""Routing behaviour a supervisor would check by hand, one scenario at a time."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

from cc_router.core import Router
from cc_router.core import commands as cmd
from cc_router.core import events as ev
from cc_router.core.spec import (
    AgentSpec,
    Channel,
    ExitKind,
    ExitTarget,
    QueueSpec,
    RoutingSpec,
    StepSpec,
    Strategy,
)

from .centres import centre, small_centre


class Harness:
    def __init__(self, router: Router) -> None:
        self.router = router
        self.now = 0.0
        self.out: list[cmd.Command] = []

    def at(self, now: float, event: ev.Event) -> list[cmd.Command]:
        self.now = now
        self.out = self.router.handle(event, now)
        return self.out

    def offers(self) -> list[tuple[str, str]]:
        return [(c.interaction_id, c.agent_id) for c in self.out if isinstance(c, cmd.Offer)]

    def of(self, kind: type) -> list:  # type: ignore[type-arg]
        return [c for c in self.out if isinstance(c, kind)]


def simple(strategy: Strategy, agents: list[AgentSpec], **queue: object) -> Harness:
    q = QueueSpec("q", requirement="zh", strategy=strategy, **queue)  # type: ignore[arg-type]
    return Harness(Router(centre(agents, [q])))


def zh(aid: str, level: int = 1, **kw: object) -> AgentSpec:
    return AgentSpec(aid, skills={"zh": level}, **kw)  # type: ignore[arg-type]


def test_longest_idle_takes_the_agent_free_longest() -> None:
    h = simple(Strategy.LONGEST_IDLE, [zh("a"), zh("b"), zh("c")])
    h.at(1, ev.AgentLoggedIn("b"))
    h.at(2, ev.AgentLoggedIn("c"))
    h.at(3, ev.AgentLoggedIn("a"))
    h.at(4, ev.InteractionArrived("x", "q"))
    assert h.offers() == [("x", "b")]
    expl = h.of(cmd.Offer)[0].explanation
    assert expl.strategy == "longest_idle" and expl.chosen == "b" and expl.trigger == "arrival"
    assert [c[0] for c in expl.candidates][:2] == ["b", "c"]


def test_fewest_interactions() -> None:
    h = simple(Strategy.FEWEST_INTERACTIONS, [zh("a"), zh("b")])
    h.at(1, ev.AgentLoggedIn("a"))
    h.at(2, ev.AgentLoggedIn("b"))
    h.at(3, ev.InteractionArrived("x1", "q"))
    assert h.offers() == [("x1", "a")]
    h.at(4, ev.OfferAccepted("x1", "a"))
    h.at(5, ev.InteractionEnded("x1"))
    h.at(6, ev.InteractionArrived("x2", "q"))
    assert h.offers() == [("x2", "b")]  # a has handled one, b none
    h.at(7, ev.OfferAccepted("x2", "b"))
    h.at(8, ev.InteractionEnded("x2"))
    h.at(9, ev.InteractionArrived("x3", "q"))
    assert h.offers() == [("x3", "a")]  # equal counts: longest idle breaks the tie


def test_round_robin_remembers_where_it_was() -> None:
    h = simple(Strategy.ROUND_ROBIN, [zh("a"), zh("b"), zh("c")])
    for t, a in enumerate("cab"):
        h.at(t, ev.AgentLoggedIn(a))
    served = []
    for n in range(6):
        h.at(10 + n, ev.InteractionArrived(f"x{n}", "q"))
        ((iid, agent),) = h.offers()
        served.append(agent)
        h.at(10 + n + 0.1, ev.OfferAccepted(iid, agent))
        h.at(10 + n + 0.2, ev.InteractionEnded(iid))
    assert served == ["a", "b", "c", "a", "b", "c"]


def test_linear_always_prefers_config_order() -> None:
    h = simple(Strategy.LINEAR, [zh("a"), zh("b")])
    h.at(1, ev.AgentLoggedIn("b"))
    h.at(2, ev.AgentLoggedIn("a"))
    h.at(3, ev.InteractionArrived("x", "q"))
    assert h.offers() == [("x", "a")]


def test_best_skill_first_then_idle_time() -> None:
    h = simple(Strategy.BEST_SKILL, [zh("a", 2), zh("b", 5), zh("c", 5)])
    for t, a in enumerate("acb"):
        h.at(t, ev.AgentLoggedIn(a))
    h.at(5, ev.InteractionArrived("x", "q"))
    assert h.offers() == [("x", "c")]


def test_weighted_random_follows_weights() -> None:
    counts: Counter[str] = Counter()
    for seed in range(400):
        agents = [zh("a", weight=1.0), zh("b", weight=3.0)]
        q = QueueSpec("q", requirement="zh", strategy=Strategy.WEIGHTED_RANDOM)
        h = Harness(Router(centre(agents, [q], RoutingSpec(seed=seed))))
        h.at(1, ev.AgentLoggedIn("a"))
        h.at(1, ev.AgentLoggedIn("b"))
        h.at(2, ev.InteractionArrived("x", "q"))
        counts[h.offers()[0][1]] += 1
    assert 0.65 < counts["b"] / 400 < 0.85  # expected 0.75


def test_ring_no_answer_returns_the_caller_to_the_front() -> None:
    h = simple(Strategy.LONGEST_IDLE, [zh("a"), zh("b")], ring_timeout_s=10)
    h.at(0, ev.AgentLoggedIn("a"))
    h.at(1, ev.InteractionArrived("first", "q"))
    assert h.offers() == [("first", "a")]
    h.at(2, ev.InteractionArrived("second", "q"))
    h.at(3, ev.OfferDeclined("first", "a", "no_answer"))
    assert h.offers() == [("second", "a")]  # a just missed "first", so a takes the next
    h.at(4, ev.AgentLoggedIn("b"))
    assert h.offers() == [("first", "b")]  # not "second": first keeps its place


def test_missed_offers_pause_the_agent_after_n() -> None:
    agents = [zh("a")]
    q = QueueSpec("q", requirement="zh", ring_timeout_s=5)
    h = Harness(Router(centre(agents, [q], RoutingSpec(max_misses=2, miss_exclusion_s=1))))
    h.at(0, ev.AgentLoggedIn("a"))
    h.at(1, ev.InteractionArrived("x", "q"))
    h.at(2, ev.OfferDeclined("x", "a", "no_answer"))
    h.at(3, ev.Tick())  # exclusion over: offered again
    assert h.offers() == [("x", "a")]
    h.at(20, ev.Tick())  # ring timeout (5 s + grace) passes: second miss
    cancels = h.of(cmd.CancelOffer)
    assert cancels and cancels[0].reason == "timeout"
    states = [(c.state, c.reason) for c in h.of(cmd.AgentStateChanged)]
    assert states[-1] == ("paused", "no_answer")
    assert h.router.interactions["x"].misses == 2


def test_fair_order_across_queues_an_agent_serves() -> None:
    agents = [AgentSpec("a", skills={"zh": 1, "billing": 1})]
    queues = [QueueSpec("billing", requirement="billing"), QueueSpec("general", requirement="zh")]
    h = Harness(Router(centre(agents, queues)))
    h.at(1, ev.InteractionArrived("g1", "general"))
    h.at(2, ev.InteractionArrived("b1", "billing"))
    h.at(3, ev.InteractionArrived("g2", "general"))
    h.at(4, ev.AgentLoggedIn("a"))
    order = []
    for t in range(3):
        ((iid, _),) = h.offers()
        order.append(iid)
        h.at(5 + t, ev.OfferAccepted(iid, "a"))
        h.at(5 + t + 0.5, ev.InteractionEnded(iid))
    assert order == ["g1", "b1", "g2"]


def test_priority_beats_seniority() -> None:
    agents = [AgentSpec("a", skills={"zh": 1, "vip": 1})]
    queues = [QueueSpec("general", requirement="zh"), QueueSpec("vip", requirement="vip", priority=5)]
    h = Harness(Router(centre(agents, queues)))
    h.at(1, ev.InteractionArrived("old", "general"))
    h.at(2, ev.InteractionArrived("v", "vip"))
    h.at(3, ev.InteractionArrived("old_but_prio", "general", priority=9))
    h.at(4, ev.AgentLoggedIn("a"))
    assert h.offers() == [("old_but_prio", "a")]


def test_escalation_widens_the_requirement_in_time() -> None:
    agents = [AgentSpec("junior", skills={"zh": 2})]
    q = QueueSpec("q", requirement="zh >= 4", steps=(StepSpec(30, "zh >= 2"),))
    h = Harness(Router(centre(agents, [q])))
    h.at(0, ev.AgentLoggedIn("junior"))
    h.at(1, ev.InteractionArrived("x", "q"))
    assert h.offers() == []
    h.at(30.5, ev.Tick())
    assert h.offers() == []
    h.at(31, ev.Tick())
    assert h.offers() == [("x", "junior")]
    offer = h.of(cmd.Offer)[0]
    assert offer.explanation.step == 1 and offer.explanation.trigger == "escalation"
    assert h.of(cmd.Offer)[0].explanation.requirement == "zh >= 4 or zh >= 2"


def test_a_queue_change_applies_to_callers_already_waiting() -> None:
    agents = [AgentSpec("en", skills={"en": 3})]
    q = QueueSpec("q", requirement="zh")
    h = Harness(Router(centre(agents, [q])))
    h.at(0, ev.AgentLoggedIn("en"))
    h.at(1, ev.InteractionArrived("x", "q"))
    assert h.offers() == []
    h.at(2, ev.QueueChanged(replace(q, steps=(StepSpec(1, "en"),))))
    assert h.offers() == [("x", "en")]


def test_skill_change_applies_at_once() -> None:
    agents = [AgentSpec("a", skills={"en": 3})]
    h = Harness(Router(centre(agents, [QueueSpec("q", requirement="zh >= 2")])))
    h.at(0, ev.AgentLoggedIn("a"))
    h.at(1, ev.InteractionArrived("x", "q"))
    h.at(2, ev.AgentSkillsChanged("a", {"en": 3, "zh": 2}))
    assert h.offers() == [("x", "a")]
    h.at(3, ev.AgentSkillsChanged("a", {"klingon": 3}))
    assert h.of(cmd.EventRejected)[0].reason == "unknown skill klingon"


def test_max_wait_exits_to_its_target() -> None:
    h = simple(Strategy.LONGEST_IDLE, [zh("a")], max_wait_s=60, on_max_wait=ExitTarget.parse("voicemail:100"))
    h.at(0, ev.InteractionArrived("x", "q"))
    h.at(61, ev.Tick())
    (exit_cmd,) = h.of(cmd.ExitInteraction)
    assert exit_cmd.target == ExitTarget(ExitKind.VOICEMAIL, "100") and exit_cmd.reason == "max_wait"
    assert h.of(cmd.InteractionFinished)[0].outcome == "timed_out"
    assert "x" not in h.router.interactions


def test_overflow_keeps_seniority_in_the_next_queue() -> None:
    agents = [AgentSpec("a", skills={"en": 1})]
    queues = [
        QueueSpec("zh", requirement="zh", max_wait_s=30, on_max_wait=ExitTarget.parse("queue:any")),
        QueueSpec("any", requirement="zh or en"),
    ]
    h = Harness(Router(centre(agents, queues)))
    h.at(0, ev.InteractionArrived("early", "zh"))
    h.at(10, ev.InteractionArrived("later", "any"))
    h.at(31, ev.Tick())
    assert h.of(cmd.InteractionFinished)[0].outcome == "overflowed"
    h.at(32, ev.AgentLoggedIn("a"))
    assert h.offers() == [("early", "a")]


def test_max_length_and_empty_exits() -> None:
    q = QueueSpec(
        "q",
        requirement="zh",
        max_length=1,
        on_max_length=ExitTarget.parse("callback"),
        on_empty=ExitTarget.parse("voicemail:200"),
    )
    h = Harness(Router(centre([zh("a")], [q])))
    h.at(0, ev.InteractionArrived("x", "q"))
    assert h.of(cmd.ExitInteraction)[0].reason == "empty"  # nobody logged in at all
    h.at(1, ev.AgentLoggedIn("a"))
    h.at(2, ev.AgentPaused("a", "lunch"))
    h.at(3, ev.InteractionArrived("y", "q"))
    assert h.of(cmd.InteractionQueued)  # a paused agent still counts as present
    h.at(4, ev.InteractionArrived("z", "q"))
    assert h.of(cmd.ExitInteraction)[0].reason == "max_length"
    h.at(5, ev.AgentLoggedOut("a"))
    assert h.of(cmd.ExitInteraction)[0].interaction_id == "y"  # the last agent left


def test_pause_with_a_maximum_returns_by_itself() -> None:
    h = simple(Strategy.LONGEST_IDLE, [zh("a")])
    h.at(0, ev.AgentLoggedIn("a"))
    h.at(1, ev.AgentPaused("a", "toilet", max_s=300))
    h.at(2, ev.InteractionArrived("x", "q"))
    assert h.offers() == []
    h.at(302, ev.Tick())
    states = [(c.state, c.reason, c.at) for c in h.of(cmd.AgentStateChanged)]
    assert ("ready", "", 301) in states
    assert h.offers() == [("x", "a")]


def test_wrap_up_is_visible_then_ready() -> None:
    h = simple(Strategy.LONGEST_IDLE, [zh("a")], wrapup_s=10)
    h.at(0, ev.AgentLoggedIn("a"))
    h.at(1, ev.InteractionArrived("x", "q"))
    h.at(2, ev.OfferAccepted("x", "a"))
    h.at(3, ev.InteractionArrived("y", "q"))
    h.at(50, ev.InteractionEnded("x"))
    assert [c.state for c in h.of(cmd.AgentStateChanged)] == ["wrap_up"]
    finished = h.of(cmd.InteractionFinished)[0]
    assert (finished.outcome, finished.wait_s, finished.talk_s) == ("answered", 1, 48)
    h.at(61, ev.Tick())
    assert h.offers() == [("y", "a")]


def test_caller_leaving_while_ringing_frees_the_agent_without_a_miss() -> None:
    h = simple(Strategy.LONGEST_IDLE, [zh("a")])
    h.at(0, ev.AgentLoggedIn("a"))
    h.at(1, ev.InteractionArrived("x", "q"))
    h.at(2, ev.InteractionAbandoned("x"))
    assert h.of(cmd.CancelOffer)[0].reason == "caller_gone"
    assert h.of(cmd.InteractionFinished)[0].outcome == "abandoned_ringing"
    assert h.router.agents["a"].misses == 0
    assert h.router.agent_state("a") == "ready"


def test_an_agent_on_a_private_call_is_not_offered() -> None:
    h = simple(Strategy.LONGEST_IDLE, [zh("a")])
    h.at(0, ev.AgentLoggedIn("a"))
    h.at(1, ev.AgentDeviceChanged("a", in_use=True))
    h.at(2, ev.InteractionArrived("x", "q"))
    assert h.offers() == []
    h.at(3, ev.AgentDeviceChanged("a", in_use=False))
    assert h.offers() == [("x", "a")]


def test_blended_agent_takes_chats_up_to_capacity_but_no_call_meanwhile() -> None:
    h = Harness(Router(small_centre()))
    h.at(0, ev.AgentLoggedIn("a4"))  # blended: 1 voice, 3 chats, 2 emails; voice exclusive
    for n in range(4):
        h.at(1 + n, ev.InteractionArrived(f"chat{n}", "chat_zh"))
        for iid, agent in h.offers():
            h.at(1 + n + 0.5, ev.OfferAccepted(iid, agent))
    assert h.router.agents["a4"].load[Channel.CHAT] == 3
    assert "chat3" in h.router.interactions and h.router.position("chat3") == 1
    h.at(10, ev.InteractionArrived("call", "vip"))
    assert h.offers() == []


def test_bad_events_are_rejected_and_change_nothing() -> None:
    h = simple(Strategy.LONGEST_IDLE, [zh("a")])
    assert isinstance(h.at(0, ev.AgentLoggedIn("ghost"))[0], cmd.EventRejected)
    assert isinstance(h.at(1, ev.InteractionArrived("x", "nowhere"))[0], cmd.EventRejected)
    assert isinstance(h.at(2, ev.OfferAccepted("x", "a"))[0], cmd.EventRejected)
    h.at(3, ev.InteractionArrived("x", "q"))
    assert isinstance(h.at(4, ev.InteractionArrived("x", "q"))[0], cmd.EventRejected)
    assert h.router.queues["q"].waiting == 1


def test_transfer_to_a_named_agent_then_fallback_to_the_queue() -> None:
    agents = [zh("a"), zh("b"), zh("c")]
    q = QueueSpec("q", requirement="zh")
    h = Harness(Router(centre(agents, [q], RoutingSpec(direct_fallback_s=30))))
    for t, aid in enumerate("abc"):
        h.at(t, ev.AgentLoggedIn(aid))
    h.at(5, ev.InteractionArrived("x", "q"))
    assert h.offers() == [("x", "a")]
    h.at(6, ev.OfferAccepted("x", "a"))
    h.at(7, ev.InteractionArrived("y", "q"))  # b takes y, so c is the only free agent
    h.at(8, ev.OfferAccepted("y", "b"))
    h.at(9, ev.InteractionTransferred("x", "q", agent_id="b"))
    assert h.offers() == []  # b is busy; c is free but x is for b only
    assert h.router.interactions["x"].target_agent == "b"
    h.at(10, ev.InteractionEnded("y"))
    assert h.offers() == [("x", "b")]
    assert h.of(cmd.Offer)[0].explanation.trigger == "direct"
    h.at(11, ev.OfferDeclined("x", "b", "rejected"))
    assert h.offers() == [("x", "c")]  # declined: it waits in the queue like anyone else


def test_transfer_to_an_agent_who_never_frees_up_falls_back() -> None:
    agents = [zh("a"), zh("b")]
    h = Harness(Router(centre(agents, [QueueSpec("q", requirement="zh")], RoutingSpec(direct_fallback_s=30))))
    h.at(0, ev.AgentLoggedIn("a"))
    h.at(1, ev.InteractionArrived("x", "q"))
    h.at(2, ev.OfferAccepted("x", "a"))
    h.at(3, ev.InteractionTransferred("x", "q", agent_id="b"))  # b is logged out
    h.at(4, ev.InteractionArrived("later", "q"))
    assert h.offers() == [("later", "a")]
    h.at(5, ev.OfferAccepted("later", "a"))
    h.at(40, ev.Tick())
    assert [c.reason for c in h.of(cmd.InteractionQueued)] == ["direct_fallback"]


def test_original_position_is_the_place_at_joining() -> None:
    h = simple(Strategy.LONGEST_IDLE, [zh("a")])
    positions = []
    for n in range(3):
        h.at(n, ev.InteractionArrived(f"x{n}", "q"))
        positions.append(h.of(cmd.InteractionQueued)[0].original_position)
    assert positions == [1, 2, 3]
    h.at(5, ev.InteractionAbandoned("x2"))
    assert h.of(cmd.InteractionFinished)[0].original_position == 3


def test_next_timer_skips_timers_that_can_no_longer_apply() -> None:
    # An answered offer's ring timeout and a connected caller's escalation step would fire
    # for nothing: the driver is told of the wrap-up's end only, and is not woken before.
    h = simple(
        Strategy.LONGEST_IDLE, [zh("a"), zh("b")], wrapup_s=30, ring_timeout_s=15,
        steps=(StepSpec(after_s=30, requirement="zh"),),
    )  # fmt: skip
    h.at(0, ev.AgentLoggedIn("a"))
    h.at(1, ev.InteractionArrived("x", "q"))
    ring = h.router.next_timer_at()  # the offer may still time out
    assert ring is not None and ring > 16
    h.at(2, ev.OfferAccepted("x", "a"))
    h.at(5, ev.InteractionEnded("x"))
    # The wrap-up's end, not the answered offer (due at `ring`) nor the step (at 31).
    assert h.router.next_timer_at() == 35
    h.at(35, ev.Tick())
    assert [c.state for c in h.of(cmd.AgentStateChanged)] == ["ready"]
    assert h.router.next_timer_at() is None
    # A timer that still applies is kept: a ringing offer nobody answers times out.
    h.at(40, ev.InteractionArrived("y", "q"))
    assert h.router.next_timer_at() == ring + 39
    h.at(ring + 39, ev.Tick())
    assert [c.reason for c in h.of(cmd.CancelOffer)] == ["timeout"]
