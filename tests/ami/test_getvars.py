"""`AsteriskReads.getvars`: several channel variables in one Getvar, and when it falls back."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

from cc_router.adapters.ami.connection import Reply
from cc_router.adapters.ami.reads import SEPARATOR, AsteriskReads


def _reads(values: dict[str, str] | None, sent: list[str]) -> AsteriskReads:
    async def send(action: Mapping[str, str | Sequence[str]]) -> Reply:
        name = str(action["Variable"])
        sent.append(name)
        if values is None:
            return {"Response": "Error", "Message": "No such channel"}
        if name.startswith("EVAL("):
            names = [part[2:-1] for part in name[5:-1].split(SEPARATOR)]
            return {"Response": "Success", "Value": SEPARATOR.join(values.get(n, "") for n in names)}
        return {"Response": "Success", "Value": values.get(name, "")}

    return AsteriskReads(send)


def test_one_round_trip_for_all_variables() -> None:
    sent: list[str] = []
    reads = _reads({"A": "1", "B": "", "SHARED(C)": "yes"}, sent)
    assert asyncio.run(reads.getvars("PJSIP/x", ("A", "B", "SHARED(C)"))) == ["1", "", "yes"]
    assert sent == [f"EVAL(${{A}}{SEPARATOR}${{B}}{SEPARATOR}${{SHARED(C)}})"]


def test_a_value_holding_the_separator_is_read_on_its_own() -> None:
    sent: list[str] = []
    reads = _reads({"A": f"x{SEPARATOR}y", "B": "2"}, sent)
    assert asyncio.run(reads.getvars("PJSIP/x", ("A", "B"))) == [f"x{SEPARATOR}y", "2"]
    assert sent[1:] == ["A", "B"]


def test_a_channel_gone_reads_empty_in_one_round_trip() -> None:
    sent: list[str] = []
    assert asyncio.run(_reads(None, sent).getvars("PJSIP/gone", ("A", "B"))) == ["", ""]
    assert len(sent) == 1
