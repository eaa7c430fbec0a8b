"""Calls in progress after a restart: adopted as they were, never queued or offered again;
callers still waiting come back with their original arrival."""

from __future__ import annotations

from typing import Any

import pytest

from cc_router.core import Router
from cc_router.core import commands as cmd
from cc_router.core import events as ev
from cc_router.core.spec import AgentSpec, ExitTarget, QueueSpec, RoutingSpec
from cc_router.core.vocabulary import AgentState, ExitReason, Outcome, RejectCode, Stage, Trigger

from .centres import centre

T = 10_000.0


def _router(max_wait_s: float | None = None) -> Router:
    agents = [AgentSpec("a1", skills={"zh": 5}), AgentSpec("a2", skills={"zh": 5, "en": 5})]
    queues = [
        QueueSpec("zh", requirement="zh", wrapup_s=0, ring_timeout_s=10),
        QueueSpec(
            "en",
            requirement="en",
            wrapup_s=0,
            max_wait_s=max_wait_s,
            on_max_wait=ExitTarget.parse("voicemail:1") if max_wait_s else None,
        ),
    ]
    return Router(centre(agents, queues, RoutingSpec(offer_grace_s=2)))


def _of(out: list[cmd.Command], kind: type) -> list[Any]:
    return [c for c in out if isinstance(c, kind)]


def test_connected_call_is_adopted_with_its_times_and_ends_once() -> None:
    r = _router()
    r.handle(ev.AgentLoggedIn("a1"), T - 600)
    out = r.handle(ev.InteractionAdopted("c1", "zh", "a1", "o7", arrived_at=T - 100, answered_at=T - 40), T)
    # Nothing is queued or offered again; the agent is busy since it answered.
    assert not _of(out, cmd.Offer) and not _of(out, cmd.InteractionQueued)
    (changed,) = _of(out, cmd.AgentStateChanged)
    assert changed.state is AgentState.BUSY
    a1 = r.agents["a1"]
    assert a1.state_since == T - 40
    it = r.interactions["c1"]
    assert it.stage is Stage.CONNECTED and it.answered_at == T - 40 and it.agent_id == "a1"
    # Another caller does not go to the agent on the adopted call.
    out = r.handle(ev.InteractionArrived("c2", "zh"), T + 1)
    assert not _of(out, cmd.Offer)

    out = r.handle(ev.InteractionEnded("c1", "caller_hangup"), T + 20)
    (fin,) = _of(out, cmd.InteractionFinished)
    assert fin.outcome is Outcome.ANSWERED and fin.agent_id == "a1"
    assert fin.enqueued_at == T - 100 and fin.answered_at == T - 40
    assert fin.wait_s == pytest.approx(60) and fin.talk_s == pytest.approx(60)
    # The freed agent takes the caller who waited.
    assert [o.interaction_id for o in _of(out, cmd.Offer)] == ["c2"]
    # Ended once: a second end is refused, no second row.
    second = ev.InteractionEnded("c1", "agent_hangup")
    again = r.handle(second, T + 21)
    assert not _of(again, cmd.InteractionFinished)
    assert cmd.rejection(again, second) is not None


def test_adopted_call_of_a_logged_out_agent_still_keeps_it_busy() -> None:
    r = _router()
    r.handle(ev.InteractionAdopted("c1", "zh", "a1", "o1", arrived_at=T - 30, answered_at=T - 10), T)
    assert r.agents["a1"].state is AgentState.BUSY
    out = r.handle(ev.InteractionEnded("c1"), T + 5)
    assert _of(out, cmd.InteractionFinished)[0].outcome is Outcome.ANSWERED
    assert r.agents["a1"].state is AgentState.LOGGED_OUT


def test_ringing_leg_is_a_pending_offer_under_its_own_id() -> None:
    r = _router()
    r.handle(ev.AgentLoggedIn("a1"), T - 600)
    r.handle(ev.AgentLoggedIn("a2"), T - 500)
    out = r.handle(ev.InteractionAdopted("c1", "zh", "a1", "o41", arrived_at=T - 20), T)
    assert not _of(out, cmd.Offer)
    assert r.agents["a1"].state is AgentState.RESERVED
    assert r.offers["o41"].explanation.trigger is Trigger.ADOPTED
    # New offers do not reuse the previous process's ids.
    out = r.handle(ev.InteractionArrived("c2", "zh"), T + 1)
    (offer,) = _of(out, cmd.Offer)
    assert offer.agent_id == "a2" and offer.offer_id not in ("o41", "o1")
    assert int(offer.offer_id[1:]) > 41

    out = r.handle(ev.OfferAccepted("c1", "a1"), T + 2)
    (conn,) = _of(out, cmd.InteractionConnected)
    assert conn.agent_id == "a1" and conn.wait_s == pytest.approx(22)
    assert r.agents["a1"].state is AgentState.BUSY


def test_ringing_leg_not_answered_returns_the_caller_to_its_place() -> None:
    r = _router()
    r.handle(ev.AgentLoggedIn("a1"), T - 600)
    r.handle(ev.InteractionAdopted("c1", "zh", "a1", "o3", arrived_at=T - 50), T)
    r.handle(ev.InteractionArrived("c2", "zh", since=T - 10), T)
    # Nobody answers for the ring timeout plus grace: the offer is given back.
    out = r.handle(ev.Tick(), T + 12.5)
    assert [c.offer_id for c in _of(out, cmd.CancelOffer)] == ["o3"]
    # a1 missed c1 and takes c2; c1 waits with its original arrival, first in line.
    assert [o.interaction_id for o in _of(out, cmd.Offer)] == ["c2"]
    assert [w.id for w in r.waiting_in("zh")] == ["c1"]
    assert r.interactions["c1"].arrived_at == T - 50
    out = r.handle(ev.AgentLoggedIn("a2"), T + 13)
    assert [(o.interaction_id, o.agent_id) for o in _of(out, cmd.Offer)] == [("c1", "a2")]


def test_adoption_refused_for_unknown_or_busy_parts() -> None:
    r = _router()
    r.handle(ev.AgentLoggedIn("a1"), T - 600)
    r.handle(ev.InteractionAdopted("c1", "zh", "a1", "o1", arrived_at=T - 5), T)
    cases = [
        (ev.InteractionAdopted("c1", "zh", "a2", "o2", arrived_at=T), RejectCode.ALREADY_KNOWN),
        (ev.InteractionAdopted("c2", "nope", "a1", "o2", arrived_at=T), RejectCode.UNKNOWN_QUEUE),
        (ev.InteractionAdopted("c2", "zh", "ghost", "o2", arrived_at=T), RejectCode.UNKNOWN_AGENT),
        (ev.InteractionAdopted("c2", "zh", "a1", "o2", arrived_at=T), RejectCode.ALREADY_HOLDS),
    ]
    for e, code in cases:
        refused = cmd.rejection(r.handle(e, T + 1), e)
        assert refused is not None and refused.code is code, e
    assert set(r.interactions) == {"c1"}


def test_waiting_callers_keep_their_arrival_order_and_max_wait() -> None:
    r = _router(max_wait_s=120)
    # Re-admitted after a restart in any order: served by when they first arrived,
    # across queues (a2 serves both).
    r.handle(ev.InteractionArrived("late", "zh", since=T - 30), T)
    r.handle(ev.InteractionArrived("early", "en", since=T - 90), T)
    r.handle(ev.InteractionArrived("new", "zh"), T)
    out = r.handle(ev.AgentLoggedIn("a2"), T + 1)
    assert [o.interaction_id for o in _of(out, cmd.Offer)] == ["early"]
    r.handle(ev.OfferDeclined("early", "a2", "no_answer"), T + 2)
    # max_wait_s counts from the first arrival: 120 s after T - 90.
    out = r.handle(ev.Tick(), T + 31)
    (ex,) = _of(out, cmd.ExitInteraction)
    assert ex.interaction_id == "early" and ex.reason is ExitReason.MAX_WAIT
    (fin,) = [f for f in _of(out, cmd.InteractionFinished) if f.interaction_id == "early"]
    assert fin.wait_s == pytest.approx(120)


def test_an_adopted_call_on_hold_keeps_its_hold_time() -> None:
    r = _router()
    r.handle(ev.AgentLoggedIn("a1"), T - 600)
    # Held 12 s earlier in the call; on hold again since T-5 when the router stopped.
    r.handle(
        ev.InteractionAdopted(
            "c1", "zh", "a1", "o7", arrived_at=T - 100, answered_at=T - 40, held_since=T - 5, hold_s=12.0
        ),
        T,
    )
    r.handle(ev.InteractionResumed("c1"), T + 3)
    out = r.handle(ev.InteractionEnded("c1", "caller_hangup"), T + 20)
    (fin,) = _of(out, cmd.InteractionFinished)
    assert fin.hold_s == pytest.approx(12 + 8)
    # A hold said to start before the answer starts at the answer.
    r.handle(ev.AgentLoggedIn("a2"), T)
    r.handle(
        ev.InteractionAdopted(
            "c2", "zh", "a2", "o8", arrived_at=T - 50, answered_at=T - 30, held_since=T - 90
        ),
        T + 30,
    )
    out = r.handle(ev.InteractionEnded("c2", "caller_hangup"), T + 40)
    (fin,) = _of(out, cmd.InteractionFinished)
    assert fin.hold_s == pytest.approx(70)
