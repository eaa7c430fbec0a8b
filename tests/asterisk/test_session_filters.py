"""The node's AMI session filters on the real Asterisk: what the router acts on reaches its
session, what it would only skip does not, while an unfiltered session sees both."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

import pytest

from cc_router.adapters.ami import actions as act
from cc_router.adapters.ami.arrivals import ARRIVALS_FILTER
from cc_router.adapters.ami.supervisor import SESSION_FILTERS
from cc_router.sandbox import SandboxSettings

from .conftest import AmiTap, Event, sipp_caller, user_event

pytestmark = pytest.mark.asterisk


def _is(event: str, **headers: str) -> Callable[[Event], bool]:
    return lambda m: m.get("Event") == event and all(m.get(k) == v for k, v in headers.items())


def _seen(tap: AmiTap, event: str, **headers: str) -> list[Event]:
    return [m for m in tap.messages if _is(event, **headers)(m)]


@pytest.mark.asyncio
async def test_filtered_session_gets_leg_channels_and_failed_originates_only(
    ami_tap: AmiTap, sandbox_settings: SandboxSettings
) -> None:
    filtered, arrivals = AmiTap(sandbox_settings), AmiTap(sandbox_settings)
    assert (await filtered.connect())["Response"] == "Success"
    assert (await arrivals.connect())["Response"] == "Success"
    try:
        for tap, filters in ((filtered, SESSION_FILTERS), (arrivals, (ARRIVALS_FILTER,))):
            for criteria, expression in filters:
                aid = await tap.send("Filter", Operation="Add", MatchCriteria=criteria, Filter=expression)
                reply = await tap.response(aid)
                assert reply["Response"] == "Success", (criteria, reply)
        since = len(arrivals.messages)  # what came before its filter: the login's

        agent = f"t{uuid.uuid4().hex[:8]}"
        leg = f"{act.LEG_ID_PREFIX}{uuid.uuid4().hex[:8]}-1"
        for key, value in (("ring", "0"), ("talk", "1"), ("answer", "1")):
            await ami_tap.response(
                await ami_tap.send("DBPut", Family="ccrsim", Key=f"{agent}/{key}", Val=value)
            )
        caller = await sipp_caller(
            sandbox_settings, "95598", 15000, name="王芳", num="13700137000", port=15097
        )
        try:
            enq = await filtered.wait_for(
                lambda m: user_event("CCREnqueue")(m) and m.get("CallerNum") == "13700137000"
            )
            good = await ami_tap.send(
                "Originate",
                Channel=f"Local/{agent}@ccr-sim-agent",
                Context=act.AGENT_CONTEXT,
                Exten="connect",
                Priority="1",
                Timeout="10000",
                Async="true",
                ChannelId=leg,
                OtherChannelId=f"{leg}-2",
                Variable=[f"CCR_CALLER={enq['Channel']}", f"CCR_IID=iid-{agent}", f"CCR_AGENT={agent}"],
            )
            bad = await ami_tap.send(
                "Originate",
                Channel="Local/nobody@ccr-no-such-context",
                Context=act.AGENT_CONTEXT,
                Exten="connect",
                Priority="1",
                Timeout="2000",
                Async="true",
                ChannelId=f"{leg}-bad",
            )
            # Everything happened, as an unfiltered session sees it.
            await ami_tap.wait_for(_is("Newchannel", Uniqueid=enq["Uniqueid"]))
            await ami_tap.wait_for(_is("Newchannel", Uniqueid=leg))
            await ami_tap.wait_for(_is("OriginateResponse", ActionID=good, Response="Success"))
            await ami_tap.wait_for(_is("OriginateResponse", ActionID=bad, Response="Failure"))
            # The caller's hang-up ends the call; the filtered session has it too, so it has
            # read as far as the unfiltered one.
            await filtered.wait_for(_is("Hangup", Uniqueid=enq["Uniqueid"]), timeout=20)
        finally:
            await asyncio.wait_for(caller.wait(), 20)
            await ami_tap.response(await ami_tap.send("DBDelTree", Family="ccrsim", Key=agent))

        assert _seen(filtered, "Newchannel", Uniqueid=leg)
        assert _seen(filtered, "Newchannel", Uniqueid=f"{leg}-2")
        assert _seen(filtered, "OriginateResponse", ActionID=bad, Response="Failure")
        assert _seen(filtered, "UserEvent", UserEvent="CCRAgentAnswered", Uniqueid=leg)
        assert not _seen(filtered, "Newchannel", Uniqueid=enq["Uniqueid"])
        assert not _seen(filtered, "OriginateResponse", ActionID=good)
        assert {
            m.get("Uniqueid", "").startswith(act.LEG_ID_PREFIX) for m in _seen(filtered, "Newchannel")
        } == {True}
        # The arrivals session (arrivals.py) had this caller's CCREnqueue and nothing else
        # of the call: no other UserEvent, no channel or hang-up events.
        assert [
            m["Uniqueid"] for m in _seen(arrivals, "UserEvent") if m.get("CallerNum") == "13700137000"
        ] == [enq["Uniqueid"]]
        assert {(m.get("Event"), m.get("UserEvent")) for m in arrivals.messages[since:] if "Event" in m} == {
            ("UserEvent", "CCREnqueue")
        }
    finally:
        await filtered.close()
        await arrivals.close()
