"""The restart benchmark's held callers as Local channel pairs: what it asks Asterisk for
(no Asterisk here: a recording stand-in for its AMI session)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pytest

from cc_router.bench import ha_live


class RecordingAmi:
    def __init__(self, refuse: bool = False) -> None:
        self.actions: list[Mapping[str, str]] = []
        self.refuse = refuse

    async def batch(self, actions: Iterable[Mapping[str, str]], chunk: int = 400) -> list[Any]:
        got = list(actions)
        self.actions.extend(got)
        if self.refuse:
            return [{"Response": "Error", "Message": "Originate failed"} for _ in got]
        return [{"Response": "Success"} for _ in got]


@pytest.mark.asyncio
async def test_each_held_caller_is_a_local_channel_through_the_inbound_hold() -> None:
    ami = RecordingAmi()
    await ha_live._hold_local(ami, 25, rate=100)  # type: ignore[arg-type]
    assert len(ami.actions) == 25
    for a in ami.actions:
        # ;2 runs ccr-inbound for the benchmark's number, like a SIP caller dialling it.
        assert a["Action"] == "Originate" and a["Channel"] == f"Local/{ha_live.NUMBER}@ccr-inbound/n"
        assert a["Application"] == "Echo" and a["Async"] == "true"
        assert a["Variable"] == "CCR_MOH=none"
        assert a["CallerID"].endswith(f"<{ha_live.HELD_CALLER_NUM}>")
    assert len({a["CallerID"] for a in ami.actions}) == 25


@pytest.mark.asyncio
async def test_a_refused_originate_stops_the_benchmark_with_asterisks_reason() -> None:
    with pytest.raises(RuntimeError, match="Originate failed"):
        await ha_live._hold_local(RecordingAmi(refuse=True), 5, rate=100)  # type: ignore[arg-type]


@pytest.mark.asyncio
async def test_an_unknown_kind_of_held_caller_is_refused() -> None:
    with pytest.raises(ValueError, match="held_by"):
        await ha_live.restart_row(10, 1, held_by="carrier pigeon")
