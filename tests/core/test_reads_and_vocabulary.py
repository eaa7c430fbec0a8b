"""The router's read API, the core's vocabulary and its rejection codes."""

from __future__ import annotations

from cc_router.core import Router
from cc_router.core import commands as cmd
from cc_router.core import events as ev
from cc_router.core.vocabulary import (
    EXIT_OUTCOME,
    QUEUED_TRIGGER,
    ExitReason,
    Outcome,
    QueueReason,
    RejectCode,
    Trigger,
)

from .centres import small_centre


def test_waiting_in_is_serving_order_and_position_agrees() -> None:
    r = Router(small_centre())
    r.handle(ev.InteractionArrived("c1", "billing_zh"), 0.0)
    r.handle(ev.InteractionArrived("c2", "billing_zh", priority=2), 1.0)
    r.handle(ev.InteractionArrived("c3", "billing_zh"), 2.0)
    assert [it.id for it in r.waiting_in("billing_zh")] == ["c2", "c1", "c3"]
    assert [r.position(i) for i in ("c2", "c1", "c3")] == [1, 2, 3]

    out = r.handle(ev.AgentLoggedIn("a1"), 3.0)
    offers = [c for c in out if isinstance(c, cmd.Offer)]
    assert [(o.interaction_id, o.agent_id) for o in offers] == [("c2", "a1")]
    assert offers[0].explanation.trigger is Trigger.AGENT_FREE
    assert [it.id for it in r.waiting_in("billing_zh")] == ["c1", "c3"]
    assert r.position("c2") is None and r.position("c1") == 1

    # Escalated interactions sit in another bucket of the same queue: still one order.
    r.handle(ev.OfferAccepted("c2", "a1"), 4.0)
    r.handle(ev.Tick(), 40.0)
    assert [it.id for it in r.waiting_in("billing_zh")] == ["c1", "c3"]
    assert {it.step for it in r.waiting_in("billing_zh")} == {1}
    assert r.waiting_in("no_such_queue") == [] and r.position("nobody") is None


def test_agents_of_a_queue_and_queues_of_an_agent() -> None:
    r = Router(small_centre())
    assert set(r.agents_of("sales_zh")) == {"a2"}
    assert "a2" in r.agents_of("billing_zh")  # through the widest step (zh >= 2)
    assert r.agents_of("no_such_queue") == frozenset()
    names = [q.name for q in small_centre().queues]
    served = r.queues_of("a2")
    assert "sales_zh" in served and "english" not in served
    assert list(served) == [n for n in names if n in served]  # config order
    assert r.queues_of("nobody") == ()


def test_rejections_carry_a_code_and_rejection_finds_only_its_event() -> None:
    r = Router(small_centre())
    first = ev.InteractionArrived("c1", "sales_zh")
    assert cmd.rejection(r.handle(first, 0.0), first) is None
    again = ev.InteractionArrived("c1", "sales_zh")
    out = r.handle(again, 1.0)
    rejected = cmd.rejection(out, again)
    assert rejected is not None and rejected.code is RejectCode.ALREADY_KNOWN and "c1" in rejected.reason
    assert cmd.rejection(out, first) is None
    bad = ev.AgentPaused("nobody")
    found = cmd.rejection(r.handle(bad, 2.0), bad)
    assert found is not None and found.code is RejectCode.UNKNOWN_AGENT
    wrong = ev.OfferAccepted("c1", "a2")
    found = cmd.rejection(r.handle(wrong, 3.0), wrong)
    assert found is not None and found.code is RejectCode.NO_PENDING_OFFER


def test_vocabulary_values_are_the_stored_strings() -> None:
    # Rows in SQL, queue_log lines and MQTT payloads hold these strings: a rename here
    # would silently split reports in two.
    assert {o.value for o in Outcome} == {
        "answered",
        "abandoned",
        "abandoned_ringing",
        "overflowed",
        "moved",
        "transferred",
        "timed_out",
        "max_length",
        "empty",
        "queue_removed",
        "overflow_loop",
        "callback_failed",
        "pbx_dropped",
    }
    assert set(EXIT_OUTCOME) == set(ExitReason)
    assert EXIT_OUTCOME[ExitReason.MAX_WAIT] is Outcome.TIMED_OUT
    assert set(QUEUED_TRIGGER) == set(QueueReason)
    assert QUEUED_TRIGGER[QueueReason.ARRIVED] == "arrival"


def test_outcomes_come_out_as_enum_members() -> None:
    r = Router(small_centre())
    r.handle(ev.InteractionArrived("c1", "sales_zh"), 0.0)
    out = r.handle(ev.InteractionAbandoned("c1"), 5.0)
    finished = [c for c in out if isinstance(c, cmd.InteractionFinished)]
    assert [f.outcome for f in finished] == [Outcome.ABANDONED]
    assert finished[0].outcome is Outcome.ABANDONED
