"""AMI wire format: split the byte stream into whole messages, parse only those we need.

Asterisk sends `Key: Value` lines ending in CRLF, one blank line after each message. A TCP
read can end anywhere, including inside a multi-byte UTF-8 character (a Chinese caller
name), so bytes are buffered and only complete messages are decoded. panoramisk decodes
each read on its own (ASCII by default, errors ignored) and loses such characters.

Most messages the router receives are events it ignores; `event_name` reads the name
straight from the bytes so those are dropped without building a dict.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import structlog
from panoramisk.ami_protocol import AMIProtocol

log = structlog.get_logger("cc_router.ami.protocol")

Message = dict[str, str]
EOM = b"\r\n\r\n"
BANNER = b"Asterisk Call Manager/"
_EVENT = b"Event: "
MAX_MESSAGE_BYTES = 1 << 20
"""A message this large without a terminator is garbage, not AMI: drop the buffer."""


class FrameSplitter:
    """Cuts a byte stream into whole AMI messages (without their blank-line terminator)."""

    __slots__ = ("_buf", "banner")

    def __init__(self) -> None:
        self._buf = b""
        self.banner: str | None = None

    def feed(self, data: bytes) -> list[bytes]:
        buf = self._buf + data if self._buf else data
        if self.banner is None:
            nl = buf.find(b"\r\n")
            if nl < 0:
                self._buf = buf
                return []
            line = buf[:nl]
            if line.startswith(BANNER):
                self.banner = line.decode("utf-8", "replace")
                buf = buf[nl + 2 :]
            else:
                self.banner = ""  # no banner (replayed stream): everything is messages
        frames = buf.split(EOM)
        rest = frames.pop()
        if len(rest) > MAX_MESSAGE_BYTES:
            log.error("ami_frame_too_large", bytes=len(rest))
            rest = b""
        self._buf = rest
        # Asterisk sometimes sends a lone CRLF between messages.
        return [f.lstrip(b"\r\n") for f in frames if f.strip()]

    def reset(self) -> None:
        self._buf = b""
        self.banner = None


def event_name(frame: bytes) -> str | None:
    """`Event:` name when it is the first header (always so from Asterisk), else None."""
    if not frame.startswith(_EVENT):
        return None
    end = frame.find(b"\r\n")
    return (frame[7:] if end < 0 else frame[7:end]).decode("ascii", "replace").strip()


def header(frame: bytes, name: bytes) -> str:
    """One header's value straight from the bytes ("" when absent), first occurrence wins
    as in `parse_frame`. `name` includes the separator, e.g. `b"Uniqueid: "`.

    For the ids the node routes on (Uniqueid, ActionID, Device...): most frames it handles
    need one or two headers, and a full parse costs ten times a `find`."""
    if frame.startswith(name):
        start = len(name)
    else:
        at = frame.find(b"\r\n" + name)
        if at < 0:
            return ""
        start = at + 2 + len(name)
    end = frame.find(b"\r\n", start)
    value = frame[start:] if end < 0 else frame[start:end]
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("utf-8", "replace")


def parse_frame(frame: bytes) -> Message:
    """Headers of one whole message; the first of repeated headers wins.

    Undecodable bytes become U+FFFD and are logged: a whole message is either UTF-8 or
    broken at the source, never cut by us."""
    try:
        text = frame.decode("utf-8")
    except UnicodeDecodeError:
        log.warning("ami_bad_utf8", frame_start=frame[:80].decode("ascii", "replace"))
        text = frame.decode("utf-8", "replace")
    out: Message = {}
    for line in text.split("\r\n"):
        key, sep, value = line.partition(":")
        if sep and key not in out:
            out[key] = value[1:] if value.startswith(" ") else value
    return out


def _clean(value: str) -> str:
    # A CR or LF inside a value would end the header (or the action) early.
    return value.replace("\r", " ").replace("\n", " ")


def encode_action(action: Mapping[str, str | Sequence[str]]) -> bytes:
    """One action; a sequence value repeats the header (e.g. several `Variable:` lines)."""
    parts: list[str] = []
    for key, value in action.items():
        if isinstance(value, str):
            parts.append(f"{key}: {_clean(value)}\r\n")
        else:
            parts.extend(f"{key}: {_clean(v)}\r\n" for v in value)
    parts.append("\r\n")
    return "".join(parts).encode("utf-8")


class AmiProtocol(AMIProtocol):  # type: ignore[misc]
    """panoramisk's protocol with whole-message decoding and no action bookkeeping.

    panoramisk keeps every pending action to re-send it after a reconnect; here the
    connection owns pending actions and fails them on loss instead (see connection.py).
    """

    def __init__(
        self,
        on_frames: Callable[[list[bytes]], None],
        on_lost: Callable[[Exception | None], None],
        name: str = "ami",
    ) -> None:
        self.name = name
        """The connection's (a node's main session, or its arrivals session)."""
        self._on_frames = on_frames
        self._on_lost = on_lost
        self.splitter = FrameSplitter()
        self.transport: Any = None
        self.closed = False

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self.closed = False

    def data_received(self, data: bytes) -> None:
        frames = self.splitter.feed(data)
        if frames:
            self._on_frames(frames)

    def send_bytes(self, data: bytes) -> None:
        if self.transport is not None and not self.closed:
            self.transport.write(data)

    def pause_reading(self) -> None:
        """Leave what Asterisk sends in the socket for now (the loop stops watching it)."""
        if self.transport is not None and not self.closed:
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.resume_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed:
            self.closed = True
            self._on_lost(exc)

    def close(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.close()


# ---------------------------------------------------------------------- benchmark

FIXTURES = Path(__file__).resolve().parents[4] / "tests" / "fixtures" / "ami"
WANTED_DEFAULT = frozenset(
    {
        "UserEvent",
        "Hangup",
        "BridgeEnter",
        "BridgeLeave",
        "OriginateResponse",
        "DeviceStateChange",
        "Newchannel",
    }
)


def _chunks(data: bytes, size: int) -> Iterable[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


def bench_ami_parser(
    repeat: int = 200, chunk: int = 4096, fixture: str = "a_connect_unfiltered.ami"
) -> dict[str, Any]:
    """Messages/s of this parser vs panoramisk's on a recorded stream repeated `repeat` times,
    fed in `chunk`-byte reads. Prints one JSON line and returns it as a dict."""
    from panoramisk.message import Message as PMessage

    raw = (FIXTURES / fixture).read_bytes()
    stream = raw * repeat
    n_msgs = raw.count(EOM) * repeat

    t0 = time.perf_counter()
    splitter = FrameSplitter()
    splitter.banner = ""
    parsed = 0
    for data in _chunks(stream, chunk):
        for f in splitter.feed(data):
            name = event_name(f)
            if name is None or name in WANTED_DEFAULT:
                parse_frame(f)
                parsed += 1
    ours = time.perf_counter() - t0

    t0 = time.perf_counter()
    splitter = FrameSplitter()
    splitter.banner = ""
    for data in _chunks(stream, chunk):
        for f in splitter.feed(data):
            parse_frame(f)
    ours_full = time.perf_counter() - t0

    # panoramisk's own path: decode each read, split on the text, Message.from_line each.
    t0 = time.perf_counter()
    pending = ""
    for data in _chunks(stream, chunk):
        text = pending + data.decode("utf-8", "ignore")
        lines = text.split("\r\n\r\n")
        pending = lines.pop(-1)
        for line in lines:
            PMessage.from_line(line.strip())
    theirs = time.perf_counter() - t0

    result = {
        "bench": "ami_parser",
        "fixture": fixture,
        "messages": n_msgs,
        "bytes": len(stream),
        "ours_filtered_msgs_per_s": round(n_msgs / ours),
        "ours_filtered_parsed": parsed,
        "ours_full_parse_msgs_per_s": round(n_msgs / ours_full),
        "panoramisk_msgs_per_s": round(n_msgs / theirs),
        "speedup_filtered": round(theirs / ours, 1),
        "speedup_full_parse": round(theirs / ours_full, 1),
    }
    print(json.dumps(result))
    return result
