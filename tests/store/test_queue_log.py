from __future__ import annotations

from cc_router.core.commands import AgentStateChanged, InteractionConnected, InteractionQueued
from cc_router.core.events import OfferDeclined
from cc_router.core.spec import Channel
from cc_router.store import queue_log as ql
from tests.store.factories import finished

T = 1_700_000_000.0


def test_enterqueue_only_for_a_new_queue_visit() -> None:
    arrived = InteractionQueued("1700000000.42", "billing_zh", Channel.VOICE, 0, "arrived", T)
    rec = ql.enter_queue(arrived, caller="13800138000")
    assert rec is not None
    assert rec.line() == "1700000000|1700000000.42|billing_zh|NONE|ENTERQUEUE||13800138000|1"
    returned = InteractionQueued("1700000000.42", "billing_zh", Channel.VOICE, 0, "returned", T)
    assert ql.enter_queue(returned) is None


def test_ringnoanswer_in_milliseconds() -> None:
    rec = ql.offer_declined(OfferDeclined("1700000000.42", "Agent/1001"), "billing_zh", T + 20, 15.2)
    assert rec.line() == "1700000020|1700000000.42|billing_zh|Agent/1001|RINGNOANSWER|15200"


def test_connect_holdtime_uniqueid_ringtime() -> None:
    c = InteractionConnected("1700000000.42", "Agent/1001", "billing_zh", Channel.VOICE, 12.4, T + 12.4)
    rec = ql.connect(c, ring_s=3.0, bridged_uniqueid="1700000009.43")
    assert rec.line() == "1700000012|1700000000.42|billing_zh|Agent/1001|CONNECT|12|1700000009.43|3"


def test_complete_caller_and_agent() -> None:
    by_caller = finished(
        "c1", agent_id="Agent/1001", wait_s=12, talk_s=95, enqueued_at=T, disposition="caller_hangup"
    )
    by_agent = finished(
        "c1", agent_id="Agent/1001", wait_s=12, talk_s=95, enqueued_at=T, disposition="resolved"
    )
    assert ql.finished(by_caller).line() == "1700000107|c1|billing_zh|Agent/1001|COMPLETECALLER|12|95|1"  # type: ignore[union-attr]
    assert ql.finished(by_agent).line() == "1700000107|c1|billing_zh|Agent/1001|COMPLETEAGENT|12|95|1"  # type: ignore[union-attr]


def test_abandon_and_exits() -> None:
    ab = ql.finished(
        finished("c1", outcome="abandoned", wait_s=33, enqueued_at=T), position=2, orig_position=4
    )
    assert ab is not None and ab.line() == "1700000033|c1|billing_zh|NONE|ABANDON|2|4|33"
    tmo = ql.finished(finished("c1", outcome="timed_out", wait_s=300, enqueued_at=T))
    assert tmo is not None and tmo.line() == "1700000300|c1|billing_zh|NONE|EXITWITHTIMEOUT|1|1|300"
    ovf = ql.finished(finished("c1", outcome="overflowed", wait_s=60, enqueued_at=T, disposition="max_wait"))
    assert ovf is not None and ovf.event == "EXITWITHTIMEOUT"
    empty = ql.finished(finished("c1", outcome="empty", wait_s=40, enqueued_at=T))
    assert empty is not None and empty.line() == "1700000040|c1|billing_zh|NONE|EXITEMPTY|1|1|40"
    joinempty = ql.finished(finished("c1", outcome="empty", wait_s=0, enqueued_at=T))
    assert joinempty is not None and joinempty.line() == "1700000000|c1|billing_zh|NONE|JOINEMPTY"
    full = ql.finished(finished("c1", outcome="max_length", wait_s=0, enqueued_at=T))
    assert full is not None and full.line() == "1700000000|c1|billing_zh|NONE|FULL"
    assert ql.finished(finished("c1", outcome="moved", wait_s=5, enqueued_at=T)) is None
    key = ql.exit_with_key("c1", "billing_zh", T + 9, "5", 9.0, position=1, orig_position=3)
    assert key.line() == "1700000009|c1|billing_zh|NONE|EXITWITHKEY|5|1|3|9"


def test_transfer() -> None:
    tr = ql.finished(
        finished("c1", outcome="transferred", agent_id="Agent/1001", wait_s=8, talk_s=30, enqueued_at=T),
        transfer_extension="sales_zh",
        transfer_context="cc-router",
    )
    assert tr is not None
    assert tr.line() == "1700000038|c1|billing_zh|Agent/1001|TRANSFER|sales_zh|cc-router|8|30|1"


def test_member_and_pause_events() -> None:
    login = AgentStateChanged("Agent/1001", "ready", "", T, "logged_out", 0.0)
    assert [r.line() for r in ql.agent_state(login, ["q1", "q2"])] == [
        "1700000000|MANAGER|q1|Agent/1001|ADDMEMBER|",
        "1700000000|MANAGER|q2|Agent/1001|ADDMEMBER|",
    ]
    pause = AgentStateChanged("Agent/1001", "paused", "午餐", T + 60, "ready", T)
    assert [r.line() for r in ql.agent_state(pause)] == ["1700000060|NONE|NONE|Agent/1001|PAUSE|午餐"]
    unpause = AgentStateChanged("Agent/1001", "ready", "", T + 90, "paused", T + 60)
    assert [r.line() for r in ql.agent_state(unpause)] == ["1700000090|NONE|NONE|Agent/1001|UNPAUSE|"]
    logout = AgentStateChanged("Agent/1001", "logged_out", "", T + 99, "paused", T + 60)
    assert [r.line() for r in ql.agent_state(logout, ["q1"])] == [
        "1700000099|NONE|q1|Agent/1001|UNPAUSE|",
        "1700000099|MANAGER|q1|Agent/1001|REMOVEMEMBER|",
    ]
    busy = AgentStateChanged("Agent/1001", "busy", "", T, "reserved", T)
    assert ql.agent_state(busy) == []


def test_ami_fields() -> None:
    c = InteractionConnected("1700000000.42", "Agent/1001", "billing_zh", Channel.VOICE, 12.4, T + 12.4)
    assert ql.connect(c, 3.0, "1700000009.43").ami_fields() == {
        "Queue": "billing_zh",
        "Event": "CONNECT",
        "Uniqueid": "1700000000.42",
        "Interface": "Agent/1001",
        "Message": "12|1700000009.43|3",
    }
