"""Callbacks in the core: the caller's place is kept, attempts are retried after the gap,
inside the window of hours, and run out."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from cc_router.core import Router
from cc_router.core import commands as cmd
from cc_router.core import events as ev
from cc_router.core.callbacks import CallbackPolicy
from cc_router.core.spec import AgentSpec, CentreSpec, ExitTarget, ProfileSpec, QueueSpec, RoutingSpec
from cc_router.core.vocabulary import (
    CallbackResult,
    CallbackSource,
    Outcome,
    QueueReason,
    RejectCode,
    Stage,
)

SH = "Asia/Shanghai"
ALL_DAY = CallbackPolicy(attempts=2, gap_s=60, window_start_s=0, window_end_s=0, offer_after_s=30)


def centre(policy: CallbackPolicy | None = ALL_DAY, **queue: object) -> CentreSpec:
    return CentreSpec(
        skills=frozenset({"zh"}),
        profiles={"voice": ProfileSpec("voice")},
        agents=(AgentSpec("a1", skills={"zh": 1}), AgentSpec("a2", skills={"zh": 1})),
        queues=(
            QueueSpec("q", requirement="zh", ring_timeout_s=10, callback=policy, **queue),  # type: ignore[arg-type]
            QueueSpec("plain", requirement="zh"),
        ),
        routing=RoutingSpec(timezone=SH),
    )


def of(out: list[cmd.Command], kind: type) -> list[object]:
    return [c for c in out if isinstance(c, kind)]


def consistent(r: Router) -> None:
    for name, q in r.queues.items():
        assert q.waiting == len(r.waiting_in(name)), name


def test_a_caller_who_presses_one_keeps_its_place_ahead_of_later_callers() -> None:
    r = Router(centre())
    for i, t in (("c1", 100), ("c2", 101), ("c3", 102)):
        r.handle(ev.InteractionArrived(i, "q", caller=i), t)
    out = r.handle(ev.CallbackRequested("c2"), 140)
    [accepted] = of(out, cmd.CallbackAccepted)
    assert isinstance(accepted, cmd.CallbackAccepted)
    assert (accepted.source, accepted.since, accepted.priority) == (CallbackSource.REQUESTED, 101, 0)
    assert [i.id for i in r.waiting_in("q")] == ["c1", "c2", "c3"]
    consistent(r)
    r.handle(ev.InteractionArrived("c4", "q"), 150)
    assert r.position("c2") == 2 and r.position("c4") == 4
    # pressing again, or a caller of a queue without callbacks: nothing / refused
    assert not of(r.handle(ev.CallbackRequested("c2"), 151), cmd.CallbackAccepted)
    r.handle(ev.InteractionArrived("p1", "plain"), 152)
    [rej] = of(r.handle(ev.CallbackRequested("p1"), 153), cmd.EventRejected)
    assert isinstance(rej, cmd.EventRejected) and rej.code is RejectCode.NO_CALLBACK
    # served in the old order: c1, then the callback c2, then c3
    r.handle(ev.AgentLoggedIn("a1"), 160)
    r.handle(ev.OfferAccepted("c1", "a1"), 161)
    r.handle(ev.InteractionEnded("c1"), 170)
    assert r.interactions["c2"].offer is not None
    out = r.handle(ev.OfferAccepted("c2", "a1"), 172)
    [dialling] = of(out, cmd.CallbackDialling)
    assert isinstance(dialling, cmd.CallbackDialling) and (dialling.agent_id, dialling.attempt) == ("a1", 1)


def test_a_callback_exit_keeps_seniority_and_max_wait_no_longer_ends_it() -> None:
    r = Router(centre(max_length=1, on_max_length=ExitTarget.parse("callback"), max_wait_s=50))
    r.handle(ev.InteractionArrived("c1", "q"), 100)
    out = r.handle(ev.InteractionArrived("c2", "q", priority=3), 105)
    [accepted] = of(out, cmd.CallbackAccepted)
    assert isinstance(accepted, cmd.CallbackAccepted) and accepted.source is CallbackSource.EXIT
    assert not of(out, cmd.ExitInteraction)
    assert [q.reason for q in of(out, cmd.InteractionQueued)] == [QueueReason.CALLBACK]  # type: ignore[attr-defined]
    out = r.handle(ev.Tick(), 200)  # both past max_wait_s: only the plain caller leaves
    assert [e.interaction_id for e in of(out, cmd.ExitInteraction)] == ["c1"]  # type: ignore[attr-defined]
    assert [i.id for i in r.waiting_in("q")] == ["c2"]
    consistent(r)


def test_a_failed_attempt_frees_the_agent_and_is_retried_after_the_gap_at_the_same_place() -> None:
    r = Router(centre())
    r.handle(ev.InteractionArrived("cb", "q"), 100)
    r.handle(ev.CallbackRequested("cb"), 135)
    r.handle(ev.AgentLoggedIn("a1"), 140)
    r.handle(ev.OfferAccepted("cb", "a1"), 141)
    out = r.handle(ev.CallbackAttemptEnded("cb", CallbackResult.NO_ANSWER), 170)
    [attempt] = of(out, cmd.CallbackAttempted)
    assert isinstance(attempt, cmd.CallbackAttempted)
    assert (attempt.attempt, attempt.result, attempt.next_at) == (1, CallbackResult.NO_ANSWER, 230)
    assert str(r.agent_state("a1")) == "ready"  # no wrap-up: the agent never spoke to anyone
    assert r.interactions["cb"].stage is Stage.SCHEDULED and r.position("cb") is None
    r.handle(ev.InteractionArrived("late", "q"), 200)
    r.handle(ev.OfferAccepted("late", "a1"), 201)  # a1 takes the later caller meanwhile
    r.handle(ev.InteractionArrived("later", "q"), 210)
    r.handle(ev.Tick(), 231)
    assert [i.id for i in r.waiting_in("q")] == ["cb", "later"]  # back ahead of later callers
    consistent(r)
    r.handle(ev.AgentLoggedIn("a2"), 232)
    assert r.interactions["cb"].offer is not None and r.interactions["cb"].offer.agent_id == "a2"
    r.handle(ev.OfferAccepted("cb", "a2"), 233)
    out = r.handle(ev.CallbackAttemptEnded("cb", CallbackResult.BUSY), 240)
    [last] = of(out, cmd.CallbackAttempted)
    assert isinstance(last, cmd.CallbackAttempted) and (last.attempt, last.next_at) == (2, None)
    [done] = of(out, cmd.InteractionFinished)
    assert isinstance(done, cmd.InteractionFinished)
    assert (done.outcome, done.agent_id, done.disposition) == (Outcome.CALLBACK_FAILED, None, "busy")
    assert "cb" not in r.interactions


def test_an_answered_attempt_is_an_ordinary_call_until_it_ends() -> None:
    r = Router(centre())
    r.handle(ev.InteractionArrived("cb", "q"), 100)
    r.handle(ev.CallbackRequested("cb"), 135)
    r.handle(ev.AgentLoggedIn("a1"), 140)
    r.handle(ev.OfferAccepted("cb", "a1"), 141)
    out = r.handle(ev.CallbackAttemptEnded("cb", CallbackResult.ANSWERED), 150)
    [attempt] = of(out, cmd.CallbackAttempted)
    assert isinstance(attempt, cmd.CallbackAttempted) and attempt.next_at is None
    assert str(r.agent_state("a1")) == "busy"
    out = r.handle(ev.InteractionEnded("cb", "agent_hangup"), 200)
    [done] = of(out, cmd.InteractionFinished)
    assert isinstance(done, cmd.InteractionFinished) and done.outcome is Outcome.ANSWERED
    [rej] = of(r.handle(ev.CallbackAttemptEnded("cb", CallbackResult.ANSWERED), 201), cmd.EventRejected)
    assert isinstance(rej, cmd.EventRejected) and rej.code is RejectCode.UNKNOWN_INTERACTION


def test_outside_the_window_a_callback_waits_for_it_to_open() -> None:
    office = CallbackPolicy(attempts=1, gap_s=0, window_start_s=8 * 3600, window_end_s=20 * 3600)
    r = Router(centre(office, max_length=1, on_max_length=ExitTarget.parse("callback")))
    night = datetime(2027, 1, 25, 22, 0, tzinfo=ZoneInfo(SH)).timestamp()
    r.handle(ev.InteractionArrived("c1", "q"), night)
    r.handle(ev.InteractionArrived("cb", "q"), night + 1)
    assert r.interactions["cb"].stage is Stage.SCHEDULED
    opens = datetime(2027, 1, 26, 8, 0, tzinfo=ZoneInfo(SH)).timestamp()
    assert r.next_timer_at() == opens
    r.handle(ev.Tick(), opens - 1)
    assert r.interactions["cb"].stage is Stage.SCHEDULED
    r.handle(ev.Tick(), opens)
    assert [i.id for i in r.waiting_in("q")] == ["c1", "cb"]


def test_a_restored_callback_keeps_its_seniority_and_attempts() -> None:
    r = Router(centre())
    r.handle(ev.InteractionArrived("new", "q"), 1000)
    out = r.handle(ev.CallbackRestored("old", "q", 0, 500.0, "张伟 <138>", attempts=1), 1001)
    [accepted] = of(out, cmd.CallbackAccepted)
    assert isinstance(accepted, cmd.CallbackAccepted) and accepted.source is CallbackSource.RESTORED
    assert [i.id for i in r.waiting_in("q")] == ["old", "new"]
    r.handle(ev.AgentLoggedIn("a1"), 1002)
    out = r.handle(ev.OfferAccepted("old", "a1"), 1003)
    [dialling] = of(out, cmd.CallbackDialling)
    assert isinstance(dialling, cmd.CallbackDialling) and dialling.attempt == 2
    out = r.handle(ev.CallbackAttemptEnded("old", CallbackResult.NO_ANSWER), 1010)
    assert [f.outcome for f in of(out, cmd.InteractionFinished)] == [Outcome.CALLBACK_FAILED]  # type: ignore[attr-defined]
    # not before the gap after the last attempt
    r.handle(ev.CallbackRestored("gap", "q", 0, 600.0, attempts=1, not_before=2000.0), 1011)
    assert r.interactions["gap"].stage is Stage.SCHEDULED
    r.handle(ev.Tick(), 2000)
    assert r.interactions["gap"].stage is not Stage.SCHEDULED
    consistent(r)


def test_a_callback_cancelled_while_scheduled_ends_as_abandoned() -> None:
    r = Router(centre())
    r.handle(ev.InteractionArrived("cb", "q"), 100)
    r.handle(ev.CallbackRequested("cb"), 135)
    r.handle(ev.AgentLoggedIn("a1"), 140)
    r.handle(ev.OfferAccepted("cb", "a1"), 141)
    r.handle(ev.CallbackAttemptEnded("cb", CallbackResult.FAILED), 150)
    out = r.handle(ev.InteractionAbandoned("cb"), 151)
    assert [f.outcome for f in of(out, cmd.InteractionFinished)] == [Outcome.ABANDONED]  # type: ignore[attr-defined]
    out = r.handle(ev.Tick(), 400)
    assert not of(out, cmd.InteractionQueued)
