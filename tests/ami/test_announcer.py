"""Announcer: who is told what, and when (the Asterisk side is tests/e2e/test_waiting_live.py)."""

from __future__ import annotations

from typing import cast

from cc_router.adapters.ami import actions as act
from cc_router.adapters.ami.announcer import Announcer, announce_action, say_items
from cc_router.adapters.ami.node import AmiNode
from cc_router.adapters.ami.registry import CallerLeg, Registry
from cc_router.config import loads_config
from cc_router.core import events as ev
from cc_router.core.announce import Say
from cc_router.live import expected_wait
from cc_router.service import Service

CONFIG = """
skills: [zh]
agents: [{id: a1, skills: {zh: 1}}, {id: a2, skills: {zh: 1}}]
queues:
  - {name: q, requirement: zh, announce: {every_s: 30, quiet_within_s: 0},
     callback: {offer_after_s: 45}}
  - {name: silent, requirement: zh}
  - {name: quick, requirement: zh, announce: {every_s: 30}, callback: {offer_after_s: 3}}
numbers: {"1": {queue: q}}
announcements:
  prompt_sets: {zh: {sound_language: zh, there_are: zh/queue-thereare}}
"""


class FakeNode:
    def __init__(self) -> None:
        self.node = "ast1"
        self.registry = Registry("t")
        self.sent: list[act.Action] = []

    def enqueue(self, action: act.Action, on_reply: object = None) -> None:
        self.sent.append(action)

    def hold(self, iid: str) -> None:
        self.registry.add_caller(CallerLeg(iid, f"u-{iid}", f"PJSIP/trunk-{iid}", "1", "q", "138", ""))


def setup() -> tuple[Service, FakeNode, Announcer]:
    service = Service.from_config(loads_config(CONFIG, env={}))
    node = FakeNode()
    announcer = Announcer(service, [cast(AmiNode, node)], expected_wait.attach(service))
    service.sinks.append(announcer.sink)
    return service, node, announcer


def items(action: act.Action) -> str:
    return next(str(v)[len("CCR_SAY=") :] for v in action["Variable"] if str(v).startswith("CCR_SAY="))


def test_say_items_and_the_originate_into_the_callers_bridge() -> None:
    says = [Say("queue-thereare"), Say(number=3), Say("queue-callswaiting")]
    assert say_items(says) == "f:queue-thereare&n:3&f:queue-callswaiting"
    a = announce_action("1700000000.42", says, "en")
    assert a["Channel"] == "Local/1700000000.42@ccr-announce/n"
    assert (a["Context"], a["Exten"]) == ("ccr-announce", "say")
    assert "CCR_SAYLANG=en" in a["Variable"]


def test_position_on_entering_then_every_n_seconds_never_while_ringing_and_the_offer_once() -> None:
    service, node, announcer = setup()
    for i, t in (("c1", 100.0), ("c2", 101.0), ("s1", 102.0)):
        node.hold(i)
        service.submit(ev.InteractionArrived(i, "q" if i != "s1" else "silent", attributes={"lang": "en"}), t)
    announcer.tick(102.0)
    # nobody works: position only (no wait can be estimated); the silent queue says nothing
    assert [items(a) for a in node.sent] == [
        "f:queue-youarenext&f:queue-thankyou",
        "f:queue-thereare&n:2&f:queue-callswaiting&f:queue-thankyou",
    ]
    node.sent.clear()
    announcer.tick(120.0)
    assert node.sent == []  # not due yet
    service.submit(ev.AgentLoggedIn("a1"), 125.0)  # c1 is offered: about to be connected
    announcer.tick(132.5)
    assert len(node.sent) == 1 and items(node.sent[0]).startswith("f:queue-youarenext")  # c2 is next now
    node.sent.clear()
    announcer.tick(146.5)  # the callback offer, 45 s after joining (or once c2's last is over)
    announcer.tick(160.0)
    offered = [items(a) for a in node.sent]
    assert offered == ["f:vm-press&f:digits/1&f:vm-tocallback"]
    node.sent.clear()
    announcer.tick(161.0)
    assert node.sent == []


def test_the_offer_waits_for_the_announcement_before_it() -> None:
    # A holding bridge takes one announcer at a time (Asterisk refuses a second).
    service, node, announcer = setup()
    node.hold("c1")
    service.submit(ev.InteractionArrived("c1", "quick"), 100.0)
    announcer.tick(100.0)
    assert [items(a) for a in node.sent] == ["f:queue-youarenext&f:queue-thankyou"]
    announcer.tick(103.5)  # offer due, the first announcement still playing
    assert len(node.sent) == 1
    announcer.tick(107.5)
    assert items(node.sent[-1]) == "f:vm-press&f:digits/1&f:vm-tocallback"


def test_the_callers_language_picks_its_prompt_set() -> None:
    service, node, announcer = setup()
    for i in ("c1", "c2"):
        node.hold(i)
        service.submit(ev.InteractionArrived(i, "q", attributes={"lang": "zh"}), 100.0)
    announcer.tick(100.0)
    assert items(node.sent[1]).startswith("f:zh/queue-thereare&n:2")
    assert "CCR_SAYLANG=zh" in node.sent[1]["Variable"]


def test_nothing_once_connected_or_gone() -> None:
    service, node, announcer = setup()
    node.hold("c1")
    service.submit(ev.InteractionArrived("c1", "q"), 100.0)
    announcer.tick(100.0)
    service.submit(ev.AgentLoggedIn("a1"), 101.0)
    service.submit(ev.OfferAccepted("c1", "a1"), 102.0)
    node.sent.clear()
    announcer.tick(200.0)
    assert node.sent == []
