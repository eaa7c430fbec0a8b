"""The AMI side of callbacks, against a scripted connection: the key on hold, the
thank-you once stored, the agent rung first with the customer's dial string, and each
attempt's result (the real Asterisk: tests/e2e/test_waiting_live.py)."""

from __future__ import annotations

import asyncio

import pytest

from cc_router.adapters.ami import callbacks as ami_callbacks
from cc_router.core import commands as cmd
from cc_router.core import events as ev
from cc_router.core.vocabulary import CallbackResult
from tests.ami.conftest import CONFIG, Harness, make_harness

pytestmark = pytest.mark.asyncio

WITH_CALLBACKS = (
    CONFIG.replace(
        "  - {name: support, requirement: lang_zh, ring_timeout_s: 10}",
        "  - {name: support, requirement: lang_zh, ring_timeout_s: 10, callback: {offer_after_s: 30}}",
    )
    + 'callbacks: {dial: "PJSIP/{number}@out"}\n'
)
UID = "1795966198.77"


def frame(**headers: str) -> bytes:
    return "".join(f"{k}: {v}\r\n" for k, v in headers.items()).encode() + b"\r\n"


def enqueue(h: Harness) -> None:
    h.node.on_ami_event(
        "UserEvent",
        frame(
            Event="UserEvent", UserEvent="CCREnqueue", Channel="PJSIP/trunk-0001", Uniqueid=UID,
            Number="10086", CallerNum="138-0013-8000", CallerName="张伟", Lang="zh", CallerPriority="0",
        ),
    )  # fmt: skip


def setup() -> tuple[Harness, ami_callbacks.CallbackDialer]:
    h = make_harness(WITH_CALLBACKS)
    dialer = ami_callbacks.attach(h.node.ami_in, h.node.ami_out.hooks, durable=True)
    return h, dialer


async def test_the_key_asks_only_once_offered_and_the_caller_is_thanked_once_stored() -> None:
    h, dialer = setup()
    enqueue(h)
    joined = h.service.router.interactions[UID].queue_joined_at
    dtmf = frame(Event="DTMFEnd", Channel="PJSIP/trunk-0001", Uniqueid=UID, Digit="1", Direction="Received")
    assert dialer.on_dtmf(dtmf, joined + 5) == ()  # not offered yet
    assert dialer.on_dtmf(dtmf.replace(b"Digit: 1", b"Digit: 2"), joined + 40) == ()
    assert dialer.on_dtmf(dtmf.replace(b"Received", b"Sent"), joined + 40) == ()
    effects = dialer.on_dtmf(dtmf, joined + 40)
    assert effects == (ev.CallbackRequested(UID),)
    h.node.apply(effects)
    assert [c.interaction_id for c in h.commands if isinstance(c, cmd.CallbackAccepted)] == [UID]
    assert UID in dialer.targets and dialer.targets[UID].number == "138-0013-8000"
    assert h.outbox("Redirect") == []  # not before the request is stored
    h.node.apply(dialer.stored(UID))
    [redirect] = h.outbox("Redirect")
    assert (redirect["Channel"], redirect["Context"], redirect["Exten"]) == (
        "PJSIP/trunk-0001",
        "ccr-exit",
        "callback",
    )
    # the caller hanging up after the thank-you is not an abandon
    h.node.on_ami_event("Hangup", frame(Event="Hangup", Channel="PJSIP/trunk-0001", Uniqueid=UID, Cause="16"))
    assert not h.of(ev.InteractionAbandoned)
    assert UID in h.service.router.interactions


async def test_the_agent_is_rung_first_then_the_customer_is_dialled_and_a_failure_is_reported() -> None:
    h, dialer = setup()
    enqueue(h)
    h.service.submit(ev.CallbackRequested(UID))
    h.login("1001")
    await asyncio.sleep(0)
    [originate] = h.outbox("Originate")
    assert (originate["Channel"], originate["Context"], originate["Exten"]) == (
        "Local/1001@ccr-sim-agent", "ccr-callback", "connect",
    )  # fmt: skip
    variables = originate["Variable"]
    assert f"__CCR_IID={UID}" in variables
    assert "CCR_DIAL=PJSIP/13800138000@out" in variables  # only dialable characters
    assert originate["CallerID"] == '"张伟" <13800138000>'
    leg = dialer.targets[UID].leg
    assert leg is not None
    agent = frame(
        Event="UserEvent", UserEvent="CCRCallbackAgent", Uniqueid=leg.channel_id, IID=UID, Agent="1001"
    )
    h.node.on_ami_event("UserEvent", agent)
    assert h.of(ev.OfferAccepted) == [ev.OfferAccepted(UID, "1001")]
    assert [c.attempt for c in h.commands if isinstance(c, cmd.CallbackDialling)] == [1]
    result = frame(
        Event="UserEvent", UserEvent="CCRCallbackResult", Uniqueid=leg.channel_id, IID=UID,
        Status="NOANSWER", Ended="customer",
    )  # fmt: skip
    h.node.on_ami_event("UserEvent", result)
    assert h.of(ev.CallbackAttemptEnded) == [ev.CallbackAttemptEnded(UID, CallbackResult.NO_ANSWER)]
    [attempt] = [c for c in h.commands if isinstance(c, cmd.CallbackAttempted)]
    assert attempt.next_at is not None
    assert str(h.service.router.agent_state("1001")) == "ready"
    # a second result for the same attempt changes nothing
    h.node.on_ami_event("UserEvent", result)
    assert len(h.of(ev.CallbackAttemptEnded)) == 1


async def test_an_answered_callback_ends_as_a_call() -> None:
    h, dialer = setup()
    enqueue(h)
    h.service.submit(ev.CallbackRequested(UID))
    h.login("1001")
    await asyncio.sleep(0)
    leg = dialer.targets[UID].leg
    assert leg is not None
    h.node.on_ami_event(
        "UserEvent", frame(Event="UserEvent", UserEvent="CCRCallbackAgent", Uniqueid=leg.channel_id, IID=UID)
    )
    h.node.on_ami_event(
        "UserEvent", frame(Event="UserEvent", UserEvent="CCRCallbackAnswered", Uniqueid="cust-1", IID=UID)
    )
    assert h.of(ev.CallbackAttemptEnded) == [ev.CallbackAttemptEnded(UID, CallbackResult.ANSWERED)]
    # the agent's half hangs up first; the event from the other half still ends the call
    h.node.on_ami_event("Hangup", frame(Event="Hangup", Channel="Local/1001@x;2", Uniqueid=leg.other_id))
    h.node.on_ami_event(
        "UserEvent",
        frame(Event="UserEvent", UserEvent="CCRCallbackResult", Uniqueid=leg.channel_id, IID=UID,
              Status="ANSWER", Ended="agent"),
    )  # fmt: skip
    assert h.of(ev.InteractionEnded) == [ev.InteractionEnded(UID, "agent_hangup")]
    [done] = [c for c in h.commands if isinstance(c, cmd.InteractionFinished)]
    assert str(done.outcome) == "answered"
    assert UID not in dialer.targets
