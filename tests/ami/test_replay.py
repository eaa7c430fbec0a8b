"""Recorded Asterisk 22 streams through the parser and AmiNode: the core events produced."""

from __future__ import annotations

import asyncio
import base64

import pytest

from cc_router.core import commands as cmd
from cc_router.core import events as ev
from cc_router.core.spec import ExitKind, ExitTarget
from tests.ami.conftest import FIXTURES, Harness

CALLER = "1795966198.35"


@pytest.mark.asyncio
async def test_connect_agent_hangs_up(harness: Harness) -> None:
    harness.login("1001")
    harness.replay("a_connect.ami", until="UserEvent: CCREnqueue")
    arrived = harness.of(ev.InteractionArrived)
    assert arrived == [
        ev.InteractionArrived(
            CALLER,
            "support",
            1,
            "张伟 <13800138000>",
            {
                "line": "mobile",
                "number": "10086",
                "caller_num": "13800138000",
                "caller_name": "张伟",
                "lang": "en",
            },
        )
    ]
    [orig] = harness.outbox("Originate")
    assert orig["Channel"] == "Local/1001@ccr-sim-agent"
    assert orig["Context"] == "ccr-agent" and orig["Exten"] == "connect" and orig["Async"] == "true"
    assert orig["Timeout"] == "10000"
    assert f"CCR_CALLER={CALLER}" in orig["Variable"] and "CCR_AGENT=1001" in orig["Variable"]
    assert orig["CallerID"] == '"张伟" <13800138000>'
    harness.rekey_last_leg("1795966199.36", "a4", "1795966199.37")
    harness.events.clear()
    harness.replay("a_connect.ami")  # whole stream again: the CCREnqueue is a duplicate and ignored
    assert harness.of(ev.InteractionArrived) == []
    assert harness.of(ev.OfferAccepted) == [ev.OfferAccepted(CALLER, "1001")]
    assert harness.of(ev.InteractionEnded) == [ev.InteractionEnded(CALLER, "agent_hangup")]
    assert not any(isinstance(e, ev.InteractionAbandoned) for e in harness.events)
    finished = [c for c in harness.commands if isinstance(c, cmd.InteractionFinished)]
    assert [f.outcome for f in finished] == ["answered"]
    assert finished[0].caller == "张伟 <13800138000>"
    logged = [a["Event"] for a in harness.outbox("QueueLog")]
    assert logged[:1] == ["ADDMEMBER"] and {"ENTERQUEUE", "CONNECT", "COMPLETEAGENT"} <= set(logged)
    assert harness.node.registry.callers == {} and harness.node.registry.legs == {}


@pytest.mark.asyncio
async def test_no_answer_then_connect(harness: Harness) -> None:
    harness.login("1002")
    harness.replay("b_noanswer_then_connect.ami", until="UserEvent: CCREnqueue")
    [orig] = harness.outbox("Originate")
    assert orig["Channel"] == "Local/1002@ccr-sim-agent"
    harness.rekey_last_leg("never-created", "a3")
    harness.login("1001")  # 1001 becomes free only now: the caller is offered to 1002 first
    raw = (FIXTURES / "b_noanswer_then_connect.ami").read_bytes()
    fail_at = raw.index(b"Reason: 3")
    cut = raw.index(b"\r\n\r\n", fail_at) + 4
    harness.feed(raw[:cut])
    iid = harness.of(ev.InteractionArrived)[0].interaction_id
    assert harness.of(ev.OfferDeclined) == [ev.OfferDeclined(iid, "1002", "no_answer")]
    # the caller went back to the queue and was offered to 1001 at once
    origs = harness.outbox("Originate")
    assert origs[-1]["Channel"] == "Local/1001@ccr-sim-agent"
    harness.rekey_last_leg("1795966207.42", "a5")
    harness.feed(raw[cut:])
    assert [
        type(e).__name__ for e in harness.events if isinstance(e, ev.OfferAccepted | ev.InteractionEnded)
    ] == [
        "OfferAccepted",
        "InteractionEnded",
    ]
    assert [a["Event"] for a in harness.outbox("QueueLog")].count("RINGNOANSWER") == 1


@pytest.mark.asyncio
async def test_caller_hangs_up_while_agent_rings(harness: Harness) -> None:
    harness.login("1003")
    harness.replay("c_caller_hangup_while_agent_rings.ami", until="UserEvent: CCREnqueue")
    [orig] = harness.outbox("Originate")
    iid = harness.of(ev.InteractionArrived)[0].interaction_id
    raw_uid = orig["ChannelId"]
    harness.replay("c_caller_hangup_while_agent_rings.ami")
    assert harness.of(ev.InteractionAbandoned) == [ev.InteractionAbandoned(iid)]
    cancels = [c for c in harness.commands if isinstance(c, cmd.CancelOffer)]
    assert [c.reason for c in cancels] == ["caller_gone"]
    # the router hangs up the ringing agent leg by the ChannelId it chose
    assert {"Action": "Hangup", "Channel": raw_uid, "Cause": "16"} in harness.outbox("Hangup")
    assert not harness.of(ev.OfferAccepted)
    fin = [c for c in harness.commands if isinstance(c, cmd.InteractionFinished)]
    assert [f.outcome for f in fin] == ["abandoned_ringing"]


@pytest.mark.asyncio
async def test_caller_hangs_up_while_waiting(harness: Harness) -> None:
    harness.replay("d_caller_hangup_while_waiting.ami")
    [arrived] = harness.of(ev.InteractionArrived)
    assert harness.of(ev.InteractionAbandoned) == [ev.InteractionAbandoned(arrived.interaction_id)]
    assert [a["Event"] for a in harness.outbox("QueueLog")] == ["ENTERQUEUE", "ABANDON"]
    assert harness.node.registry.callers == {}


@pytest.mark.asyncio
async def test_exit_redirects_to_voicemail_and_later_hangup_is_quiet(harness: Harness) -> None:
    harness.replay("e_redirect_voicemail.ami", until="UserEvent: CCREnqueue")
    [arrived] = harness.of(ev.InteractionArrived)
    harness.node.on_commands(
        [
            cmd.ExitInteraction(
                arrived.interaction_id, "support", ExitTarget(ExitKind.VOICEMAIL, "100"), "max_wait"
            )
        ],
        1000.0,
    )
    [red] = harness.outbox("Redirect")
    assert red["Context"] == "ccr-exit" and red["Exten"] == "voicemail-100" and red["Priority"] == "1"
    assert red["Channel"].startswith("PJSIP/trunk-")
    harness.events.clear()
    harness.replay("e_redirect_voicemail.ami")
    assert harness.events == []  # the Hangup after voicemail is not an abandon


@pytest.mark.asyncio
async def test_sip_device_state_outside_router_calls(harness: Harness) -> None:
    harness.login("sip1")
    harness.replay("f_sip_agent_device_state.ami")
    changes = harness.of(ev.AgentDeviceChanged)
    assert changes[0] == ev.AgentDeviceChanged("sip1", True)
    assert changes[-1] == ev.AgentDeviceChanged("sip1", False)
    assert len(changes) == 2  # RINGING then INUSE is one change; Local/ devices are ignored


@pytest.mark.asyncio
async def test_agent_feature_codes(harness: Harness) -> None:
    harness.replay("h_agent_features.ami")
    got = [e for e in harness.events if not isinstance(e, ev.AgentDeviceChanged)]
    assert got == [
        ev.AgentLoggedIn("sip1"),
        ev.AgentPaused("sip1", "105"),
        ev.AgentUnpaused("sip1"),
        ev.AgentLoggedOut("sip1"),
    ]


@pytest.mark.asyncio
async def test_user_event_hook_gets_utf8_message(harness: Harness) -> None:
    seen: list[dict[str, str]] = []
    harness.node.on_user_event("CCRMessage", seen.append)
    harness.replay("g_sip_message.ami", chunk=7)
    [msg] = seen
    assert base64.b64decode(msg["BodyB64"]).decode() == '2012 报名，谢谢, "ok"'


@pytest.mark.asyncio
async def test_unknown_number_is_sent_to_exit(harness: Harness) -> None:
    data = (
        (FIXTURES / "d_caller_hangup_while_waiting.ami")
        .read_bytes()
        .replace(b"Number: 10086", b"Number: 99999")
    )
    harness.feed(data)
    assert harness.of(ev.InteractionArrived) == []
    [red] = harness.outbox("Redirect")
    assert red["Exten"] == "hangup"
    assert harness.events == []  # its Hangup is not reported either


@pytest.mark.asyncio
async def test_originate_refused_declines_offer(harness: Harness) -> None:
    harness.conn.replies["Originate"] = {"Response": "Error", "Message": "Originate failed"}
    harness.login("1001")
    harness.replay("d_caller_hangup_while_waiting.ami", until="UserEvent: CCREnqueue")
    await asyncio.sleep(0)  # the reply callback runs on the loop, as it would from the socket
    [declined] = harness.of(ev.OfferDeclined)
    assert declined.reason == "failed" and declined.agent_id == "1001"


@pytest.mark.asyncio
async def test_unsent_originate_is_declined_when_the_connection_drops(harness: Harness) -> None:
    harness.login("1001")
    harness.node.supervisor.outbox.append(({"Action": "Ping"}, None))  # the send loop's turn is still to come
    harness.replay("d_caller_hangup_while_waiting.ami", until="UserEvent: CCREnqueue")
    [iid] = [e.interaction_id for e in harness.of(ev.InteractionArrived)]
    assert [a["Action"] for a, _ in harness.node.supervisor.outbox] == ["Ping", "QueueLog", "Originate"]
    harness.conn.connected = False
    harness.node.on_lost()
    assert harness.of(ev.OfferDeclined) == [ev.OfferDeclined(iid, "1001", "failed")]
    # blocked first, so the declined caller is not offered to the agent again while down
    blocked = harness.events.index(ev.AgentDeviceChanged("1001", True))
    assert blocked < harness.events.index(ev.OfferDeclined(iid, "1001", "failed"))
    assert len(harness.outbox("Originate")) == 0
    left = [(a["Action"], a.get("Event")) for a, _ in harness.node.supervisor.outbox]
    # the ENTERQUEUE line and the RINGNOANSWER of the offer are kept for the next connection
    assert left == [("Ping", None), ("QueueLog", "ENTERQUEUE"), ("QueueLog", "RINGNOANSWER")]
    assert harness.node.registry.legs == {}


@pytest.mark.asyncio
async def test_a_restored_session_writes_no_queue_log_line(harness: Harness) -> None:
    """The queue_log already has the agent's ADDMEMBER (and PAUSE) from before a restart."""
    harness.service.submit(ev.AgentSessionRestored("1001", paused=True, since=900.0, reason="lunch"))
    assert harness.of(ev.AgentSessionRestored)
    assert harness.outbox("QueueLog") == []
    harness.service.submit(ev.AgentUnpaused("1001"))
    assert [a["Event"] for a in harness.outbox("QueueLog")] == ["UNPAUSE"]
