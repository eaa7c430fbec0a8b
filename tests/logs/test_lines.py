"""The batched process stream: one write per pass of the event loop."""

from __future__ import annotations

import asyncio
import io

from cc_router.logs.lines import MAX_BUFFER, BatchedStream


def test_lines_wait_for_the_loop_pass_then_go_in_one_write() -> None:
    async def scenario() -> None:
        under = io.StringIO()
        writes: list[str] = []
        real_write = under.write
        under.write = lambda text: writes.append(text) or real_write(text)  # type: ignore[method-assign]
        out = BatchedStream(under)
        out.write("a\n")
        out.flush()
        out.write("b\n")
        assert under.getvalue() == ""  # kept until this pass of the loop ends
        await asyncio.sleep(0)
        assert under.getvalue() == "a\nb\n" and writes == ["a\nb\n"]
        out.write("x" * MAX_BUFFER)
        assert len(under.getvalue()) == 4 + MAX_BUFFER  # a full buffer goes at once

    asyncio.run(scenario())


def test_without_an_event_loop_lines_go_straight_through() -> None:
    under = io.StringIO()
    out = BatchedStream(under)
    out.write("line\n")
    assert under.getvalue() == "line\n"
