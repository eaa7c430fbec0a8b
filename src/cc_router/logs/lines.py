"""Where log lines go: a process stream written in batches, and the JSON line format the
decision log renders without structlog's processor chain.

A routing decision makes about four lines. Written through a line-buffered stream each is a
`write` system call, and each went through eight processors; together they were the largest
single part of the router's CPU per call. Lines are instead collected and written once at
the end of the event loop's pass that made them (or once `MAX_BUFFER` characters wait): one
write per wake-up of the loop, and no timer that would wake it again.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import time
from typing import Any, TextIO

MAX_BUFFER = 64 * 1024


class BatchedStream:
    """A text stream that keeps writes until the end of the loop's pass. `flush()` (called
    by structlog's writer and stdlib handlers after every line) leaves that to the pass;
    `drain()` writes now. Without a running event loop every write goes straight through."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self._parts: list[str] = []
        self._size = 0
        self._soon: asyncio.Handle | None = None
        atexit.register(self.drain)

    def write(self, text: str) -> int:
        self._parts.append(text)
        self._size += len(text)
        if self._size >= MAX_BUFFER:
            self.drain()
        elif self._soon is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                self.drain()
            else:
                self._soon = loop.call_soon(self.drain)
        return len(text)

    def flush(self) -> None:
        """Deferred to the end of the pass (see `write`)."""

    def drain(self) -> None:
        if self._soon is not None:
            self._soon.cancel()
            self._soon = None
        if not self._parts:
            return
        text = "".join(self._parts)
        self._parts.clear()
        self._size = 0
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):
            pass  # a closed or broken stream must not stop routing; nothing to tell it to

    def isatty(self) -> bool:
        isatty = getattr(self.stream, "isatty", None)
        return bool(isatty and isatty())

    def fileno(self) -> int:
        return self.stream.fileno()


_second = [-1, ""]


def iso_now(at: float | None = None) -> str:
    """ISO 8601 UTC with microseconds (`at`, or now), like structlog's TimeStamper(fmt="iso",
    utc=True); the date and time part is formatted once per second."""
    now = time.time() if at is None else at
    sec = int(now)
    if sec != _second[0]:
        _second[0], _second[1] = sec, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
    return f"{_second[1]}.{int((now - sec) * 1_000_000):06d}Z"


def dumps(obj: Any) -> str:
    # ensure_ascii off: agent and centre names are often Chinese; default=str: never fail a line
    return json.dumps(obj, ensure_ascii=False, default=str, separators=(",", ":"))


class JsonLines:
    """The JSON line renderer for loggers whose fields are known not to hold secrets (ids,
    queue names, the core's reason enums): the same line structlog's pipeline makes,
    `{fields..., "event", "level", "logger", "timestamp"}`, at a fraction of the cost."""

    __slots__ = ("level", "stream")

    def __init__(self, stream: TextIO, level: int) -> None:
        self.stream = stream
        self.level = level

    def line(
        self, logger: str, level: str, event: str, fields: dict[str, Any], at: float | None = None
    ) -> None:
        """One line; `at`: when it happened, if it is written later (decision lines are
        written in batches, stamped with the time of the decision)."""
        fields["event"] = event
        fields["level"] = level
        fields["logger"] = logger
        fields["timestamp"] = iso_now(at)
        self.stream.write(dumps(fields) + "\n")
