"""Recorded Asterisk 22 streams fed straight into the AMI-to-core translator: no node, no
loop, no router calls; only what it returns and what it leaves in the registry."""

from __future__ import annotations

from pathlib import Path

from cc_router.adapters.ami import actions as act
from cc_router.adapters.ami import effects as fx
from cc_router.adapters.ami.events_in import AmiToCore
from cc_router.adapters.ami.protocol import FrameSplitter, event_name
from cc_router.adapters.ami.registry import AgentLeg, CallerStage, LegState, Registry
from cc_router.config import loads_config
from cc_router.core import events as ev
from cc_router.service import Service
from tests.ami.conftest import CONFIG

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ami"
CALLER = "1795966198.35"
NOW = 1000.0


def translator(config_text: str = CONFIG) -> AmiToCore:
    config = loads_config(config_text)
    ami_in = AmiToCore(Registry("0a1b2c"), Service.from_config(config), config.asterisk[0], prefix="")
    ami_in.index_agents()
    return ami_in


def replay(
    ami_in: AmiToCore,
    name: str,
    *,
    until: str | None = None,
    after: str | None = None,
    stream: bytes | None = None,
) -> list[fx.Effect]:
    """Every effect of the fixture's messages (from the one containing `after`, up to and
    including the one containing `until`); DropCaller is carried out as the node would.
    `stream`: these bytes instead of the fixture's."""
    data = (FIXTURES / name).read_bytes() if stream is None else stream
    if after is not None:
        data = data[data.rindex(b"\r\n\r\n", 0, data.index(after.encode())) + 4 :]
    if until is not None:
        end = data.index(until.encode())
        data = data[: data.index(b"\r\n\r\n", end) + 4]
    splitter = FrameSplitter()
    splitter.banner = ""
    out: list[fx.Effect] = []
    for frame in splitter.feed(data):
        name_ = event_name(frame)
        if name_ is None:
            continue
        for effect in ami_in.feed(name_, frame, NOW):
            out.append(effect)
            if isinstance(effect, fx.DropCaller):
                ami_in.registry.drop_caller(effect.caller)
    return out


def sent(effects: list[fx.Effect], action: str) -> list[dict[str, object]]:
    # queue_log lines are built when written (LogLine): built here as the supervisor would.
    actions: list[act.Action] = []
    for e in effects:
        if isinstance(e, fx.LogLine):
            actions += e.actions()
        elif isinstance(e, fx.Send):
            actions.append(e.action)
    return [dict(a) for a in actions if a.get("Action") == action]


def leg_for(ami_in: AmiToCore, iid: str, agent: str, channel_id: str, action_id: str) -> AgentLeg:
    """The leg the node would have made for an offer, with the recording's ids."""
    leg = AgentLeg("o1", iid, agent, "support", channel_id, f"{channel_id}-x", action_id, NOW - 5)
    leg.state = LegState.QUEUED
    ami_in.registry.add_leg(leg)
    ami_in.registry.by_iid[iid].agent_leg = leg
    return leg


def test_waiting_caller_hangs_up() -> None:
    ami_in = translator()
    effects = replay(ami_in, "d_caller_hangup_while_waiting.ami")
    [arrived, abandoned] = fx.events_of(effects)
    assert isinstance(arrived, ev.InteractionArrived)
    assert (arrived.queue, arrived.priority, arrived.caller) == ("support", 1, "张伟 <13800138000>")
    assert abandoned == ev.InteractionAbandoned(arrived.interaction_id)
    assert ami_in.registry.callers == {} and ami_in.registry.by_iid == {}
    assert ami_in.registry.hung_up_recently(arrived.interaction_id)


def test_answered_call_ended_by_the_agent() -> None:
    ami_in = translator()
    first = replay(ami_in, "a_connect.ami", until="UserEvent: CCREnqueue")
    assert [type(e) for e in fx.events_of(first)] == [ev.InteractionArrived]
    caller = ami_in.registry.callers[CALLER]
    assert caller.stage is CallerStage.WAITING
    leg = leg_for(ami_in, CALLER, "1001", "1795966199.36", "a4")
    rest = replay(ami_in, "a_connect.ami", after="UserEvent: CCRAgentAnswered")
    assert fx.events_of(rest) == [
        ev.OfferAccepted(CALLER, "1001"),
        ev.InteractionEnded(CALLER, "agent_hangup"),
    ]
    assert leg.state is LegState.DONE and caller.stage is CallerStage.DONE
    assert ami_in.registry.callers == {}
    assert sent(rest, "Hangup") == []  # nothing for the node to clean up


def test_no_answer_declines_with_a_queue_log_line() -> None:
    ami_in = translator()
    [arrived] = fx.events_of(replay(ami_in, "b_noanswer_then_connect.ami", until="UserEvent: CCREnqueue"))
    assert isinstance(arrived, ev.InteractionArrived)
    iid = arrived.interaction_id
    leg_for(ami_in, iid, "1002", "never-created", "a3")
    effects = replay(
        ami_in, "b_noanswer_then_connect.ami", after="Event: OriginateResponse", until="Reason: 3"
    )
    assert fx.events_of(effects) == [ev.OfferDeclined(iid, "1002", "no_answer")]
    [line] = sent(effects, "QueueLog")
    assert line["Event"] == "RINGNOANSWER" and line["Uniqueid"] == iid and line["Interface"] == "1002"
    assert line["Message"] == "5000"  # rang since the Originate, 5 s before `now`
    assert ami_in.registry.legs == {}  # never created: nothing left to wait for


def test_sip_agent_device_state() -> None:
    ami_in = translator()
    effects = replay(ami_in, "f_sip_agent_device_state.ami")
    changes = [e for e in fx.events_of(effects) if isinstance(e, ev.AgentDeviceChanged)]
    # RINGING then INUSE is one change; Local/ devices are not agents' phones
    assert changes == [ev.AgentDeviceChanged("sip1", True), ev.AgentDeviceChanged("sip1", False)]
    assert ami_in.registry.device_busy == {"sip1": False}


def test_agent_feature_codes() -> None:
    effects = replay(translator(), "h_agent_features.ami")
    got = [e for e in fx.events_of(effects) if not isinstance(e, ev.AgentDeviceChanged)]
    assert got == [
        ev.AgentLoggedIn("sip1"),
        ev.AgentPaused("sip1", "105"),
        ev.AgentUnpaused("sip1"),
        ev.AgentLoggedOut("sip1"),
    ]


def test_unknown_number_is_redirected_and_its_hangup_is_quiet() -> None:
    ami_in = translator(CONFIG.replace('"10086"', '"10087"'))
    effects = replay(ami_in, "d_caller_hangup_while_waiting.ami")
    assert fx.events_of(effects) == []
    [redirect] = sent(effects, "Redirect")
    assert redirect["Context"] == "ccr-exit" and redirect["Exten"] == "hangup"
    assert ami_in.registry.callers == {}


def _frame(data: bytes, start: bytes) -> bytes:
    """The whole message (with its blank line) that begins `start`."""
    i = data.index(start)
    return data[i : data.index(b"\r\n\r\n", i) + 4]


def test_music_on_a_connected_caller_is_the_agents_hold() -> None:
    """Call (a) with the agent holding the caller twice, the second time until it hangs up:
    the recorded caller's MusicOnHoldStart/Stop frames put where a phone's hold and
    unhold would bring them (after both legs entered the agent bridge)."""
    data = (FIXTURES / "a_connect.ami").read_bytes()
    start, stop = _frame(data, b"Event: MusicOnHoldStart"), _frame(data, b"Event: MusicOnHoldStop")
    bridged = data.index(b"Event: NewCallerid")  # after both BridgeEnter
    ended = data.index(b"Event: Hangup", data.index(b"Event: BridgeDestroy"))  # the bridge is gone
    held = data[:bridged] + start + stop + start + data[bridged:ended] + stop + data[ended:]
    ami_in = translator()
    replay(ami_in, "", stream=held, until="UserEvent: CCREnqueue")
    leg_for(ami_in, CALLER, "1001", "1795966199.36", "a4")
    rest = replay(ami_in, "", stream=held, after="UserEvent: CCRAgentAnswered")
    # The holding bridge's music stopping after the answer is no hold's end: none began.
    assert fx.events_of(rest) == [
        ev.OfferAccepted(CALLER, "1001"),
        ev.InteractionHeld(CALLER),
        ev.InteractionResumed(CALLER),
        ev.InteractionHeld(CALLER),
        ev.InteractionEnded(CALLER, "agent_hangup"),
    ]
    assert ami_in.registry.callers == {}


def test_music_while_waiting_is_no_hold() -> None:
    effects = replay(translator(), "d_caller_hangup_while_waiting.ami")
    assert not [e for e in fx.events_of(effects) if isinstance(e, ev.InteractionHeld | ev.InteractionResumed)]
