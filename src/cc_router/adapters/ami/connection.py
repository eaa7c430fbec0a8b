"""One AMI connection: login, actions with replies, keep-alive, loss detection.

Unlike panoramisk's Manager this never re-sends anything: when the connection drops,
every action still waiting for its reply fails with `ConnectionLost` (an Originate sent
twice rings an agent twice). Whoever sent it decides from a snapshot what happened.
Liveness is checked, not assumed: a Ping goes out every `ping_interval_s`, and a
connection that delivers nothing (no Pong, no event) for `ping_timeout_s` after it is
closed as dead, which is how a half-open TCP connection (PBX host gone) is noticed.

Writes are coalesced: actions sent during one pass of the event loop (typically all the
actions caused by one TCP read of events) go out in one `transport.write`, flushed at the
end of the read or by a `call_soon`. Low-priority actions (queue_log lines) wait up to
`LOW_PRIORITY_DELAY_S` and ride along with the next flush, always behind the urgent ones.
The buffer belongs to this connection: when it is lost, unwritten actions fail with
`ConnectionLost` like written ones, and nothing is carried over to the next connection.

Reads can be paced (`pace`): after each read the socket is left alone for a while, so
that what Asterisk sends meanwhile is read and handled in one go. A call's events come
one or two at a time, a few milliseconds apart, and each read costs the router about
60 us of CPU before it does anything, the code it runs being cold each time; paced,
three calls' events share a read. Only events that may wait belong on a paced session
(the node's arrivals come on one of their own, supervisor.py). A reply someone waits
for (any action not sent `lite`) is never held back: while one is due, reads are not
paced, and sending one resumes reading at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import ssl
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import structlog
from pydantic import SecretStr

from cc_router.adapters.ami.protocol import (
    AmiProtocol,
    Message,
    encode_action,
    event_name,
    header,
    parse_frame,
)

if TYPE_CHECKING:
    from cc_router.config.models import AsteriskNode

log = structlog.get_logger("cc_router.ami.connection")

EventHandler = Callable[[str, bytes], None]
"""(event name, raw message bytes): parse only if the name is interesting."""
Reply = Message | list[Message]

LOW_PRIORITY_DELAY_S = 0.05
"""How long a low-priority action may wait for company before it is written anyway."""
_SUCCESS = b"Response: Success\r\n"


def setup_timeout_s(spec: AsteriskNode) -> float:
    """How long a login or a session's filters may take on `spec`'s Asterisk."""
    return max(5.0, spec.ping_timeout_s * 2)


class AmiError(Exception):
    """An AMI action failed or could not be sent."""


class ConnectionLost(AmiError):
    """The connection dropped before the reply came; the action was not re-sent and may
    or may not have been carried out."""


class LoginFailed(AmiError):
    """Asterisk refused the credentials (the secret is never part of the message)."""


@dataclass(slots=True)
class _Pending:
    action: str
    future: asyncio.Future[Reply]
    items: list[Message] | None = None
    head: Message = field(default_factory=dict)
    lite: bool = False
    """The sender only looks at `Response` (and `Message` on failure): a Success reply is
    not parsed."""


_run_ids = itertools.count(1)


class AmiConnection:
    """Single use: after a loss, make a new one (late callbacks of the old socket then
    cannot touch the new session)."""

    def __init__(
        self,
        host: str,
        port: int,
        username: str,
        secret: SecretStr,
        *,
        on_event: EventHandler,
        ping_interval_s: float = 5.0,
        ping_timeout_s: float = 3.0,
        name: str = "ami",
        may_send: Callable[[], bool] | None = None,
        tls: ssl.SSLContext | None = None,
        tls_server_name: str | None = None,
    ) -> None:
        self.host, self.port, self.username = host, port, username
        self.tls, self.tls_server_name = tls, tls_server_name
        """AMI over TLS (adapters/ami/tls.py): the server's certificate is verified."""
        self.may_send = may_send
        """Asked before every write: a router that may no longer lead sends nothing."""
        self._secret = secret
        self.on_event = on_event
        self.ping_interval_s = ping_interval_s
        self.ping_timeout_s = ping_timeout_s
        self.name = name
        self.protocol: AmiProtocol | None = None
        self.logged_in = False
        self.last_rx = 0.0
        self.banner = ""
        self.lost_reason = ""
        self._pending: dict[str, _Pending] = {}
        self._lists: set[str] = set()
        self._ids = itertools.count(1)
        self._prefix = f"{name}-{next(_run_ids)}-"
        self._closed = asyncio.Event()
        self._pinger: asyncio.Task[None] | None = None
        self._wbuf: list[bytes] = []
        self._wlow: list[bytes] = []
        self._flush_soon: asyncio.Handle | None = None
        self._flush_low: asyncio.TimerHandle | None = None
        self.writes = 0
        """transport.write calls (for the coalescing figures)."""
        self.read_interval_s = 0.0
        """Paced reads (see the module doc): after a read, the next one waits this long."""
        self._resume: asyncio.TimerHandle | None = None
        self.reads = 0
        """Reads that brought whole messages (for the pacing figures)."""

    @classmethod
    def to_node(
        cls,
        spec: AsteriskNode,
        secret: SecretStr,
        on_event: EventHandler,
        *,
        name: str,
        tls: ssl.SSLContext | None,
        may_send: Callable[[], bool] | None = None,
    ) -> AmiConnection:
        """A session to the Asterisk of `spec`, with its keep-alive settings."""
        return cls(
            spec.host,
            spec.port,
            spec.username,
            secret,
            on_event=on_event,
            ping_interval_s=spec.ping_interval_s,
            ping_timeout_s=spec.ping_timeout_s,
            name=name,
            may_send=may_send,
            tls=tls,
            tls_server_name=spec.tls_server_name,
        )

    # ------------------------------------------------------------------ lifecycle

    async def connect(self, timeout_s: float = 10.0) -> None:
        """Open the TCP connection and log in; raises on failure (connection closed)."""
        loop = asyncio.get_running_loop()
        proto = AmiProtocol(self._on_frames, self._on_lost, self.name)
        opening = loop.create_connection(
            lambda: proto,
            self.host,
            self.port,
            ssl=self.tls,
            server_hostname=(self.tls_server_name or self.host) if self.tls is not None else None,
        )
        await asyncio.wait_for(opening, timeout_s)
        self.protocol = proto
        self.last_rx = time.monotonic()
        try:
            reply = await asyncio.wait_for(
                self.send_action(
                    {"Action": "Login", "Username": self.username, "Secret": self._secret.get_secret_value()}
                ),
                timeout_s,
            )
        except (TimeoutError, AmiError):
            self.close("login_timeout")
            raise
        if not isinstance(reply, dict) or reply.get("Response") != "Success":
            msg = reply.get("Message", "") if isinstance(reply, dict) else ""
            self.close("login_failed")
            raise LoginFailed(f"AMI login as {self.username!r} refused: {msg}")
        self.banner = proto.splitter.banner or ""
        self.logged_in = True
        self._pinger = asyncio.create_task(self._ping_loop(), name=f"{self.name}-ping")
        log.info("ami_logged_in", node=self.name, host=self.host, port=self.port, banner=self.banner)

    def close(self, reason: str = "closed") -> None:
        if not self.lost_reason:
            self.lost_reason = reason
        if self.protocol is not None:
            self.protocol.close()
            self.protocol.closed = True
        # A half-open socket may take long to report connection_lost by itself.
        self._on_lost(None)

    async def wait_closed(self) -> None:
        await self._closed.wait()

    @property
    def connected(self) -> bool:
        return self.protocol is not None and not self.protocol.closed

    # ------------------------------------------------------------------ actions

    def send_action(
        self,
        action: Mapping[str, str | Sequence[str]],
        *,
        lite: bool = False,
        low_priority: bool = False,
    ) -> asyncio.Future[Reply]:
        """Send in this loop pass (coalesced, see the module doc); the future gets the
        Response (a list of the items for actions that answer with an event list, e.g.
        CoreShowChannels). Fails with ConnectionLost if not connected or lost before the
        reply (written or not: it is never re-sent).

        `lite`: only `Response`/`Message` are wanted; a Success reply comes back as
        `{"Response": "Success", "ActionID": ...}` without parsing. `low_priority`: may wait
        up to LOW_PRIORITY_DELAY_S and goes after the urgent actions (queue_log lines)."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Reply] = loop.create_future()
        name = str(action.get("Action", "?"))
        if not self.connected or self.protocol is None:
            fut.set_exception(ConnectionLost(f"{name}: not connected to {self.name}"))
            return fut
        if self.may_send is not None and not self.may_send():
            fut.set_exception(ConnectionLost(f"{name}: not sent, this router does not lead"))
            return fut
        aid = str(action.get("ActionID") or f"{self._prefix}{next(self._ids)}")
        self._pending[aid] = _Pending(name, fut, lite=lite)
        if not lite and self._resume is not None:
            self._resume_now()  # its reply is awaited: not left in the socket
        data = encode_action({**action, "ActionID": aid})
        if low_priority:
            self._wlow.append(data)
            if self._flush_low is None:
                self._flush_low = loop.call_later(LOW_PRIORITY_DELAY_S, self.flush)
        else:
            self._wbuf.append(data)
            if self._flush_soon is None:
                self._flush_soon = loop.call_soon(self.flush)
        return fut

    def flush(self) -> None:
        """Write everything buffered in one write (urgent first, then low priority)."""
        if self._flush_soon is not None:
            self._flush_soon.cancel()
            self._flush_soon = None
        if self._flush_low is not None:
            self._flush_low.cancel()
            self._flush_low = None
        if not self._wbuf and not self._wlow:
            return
        parts = self._wbuf
        if self._wlow:
            parts.extend(self._wlow)
            self._wlow = []
        self._wbuf = []
        if self.may_send is not None and not self.may_send():
            # Fenced between queueing and writing: drop it all; the callers' futures fail.
            self.close("not leading: outbox fenced")
            return
        if self.protocol is not None and self.connected:
            self.protocol.send_bytes(parts[0] if len(parts) == 1 else b"".join(parts))
            self.writes += 1

    def pace(self, interval_s: float) -> None:
        """Read at most every `interval_s` from now on; 0: each read as data arrives."""
        self.read_interval_s = interval_s
        if interval_s <= 0:
            self._resume_now()

    def _resume_now(self) -> None:
        if self._resume is not None:
            self._resume.cancel()
            self._resume = None
            if self.protocol is not None:
                self.protocol.resume_reading()

    def _pause_after_read(self) -> None:
        if self._resume is not None or self.protocol is None or self.protocol.closed:
            return
        for p in self._pending.values():
            if not p.lite:
                return  # someone waits for this reply (a snapshot's list, a Ping)
        self.protocol.pause_reading()
        self._resume = asyncio.get_running_loop().call_later(self.read_interval_s, self._resume_now)

    def action_id_for_next(self) -> str:
        """An ActionID to put in an action yourself (to match events that carry it)."""
        return f"{self._prefix}{next(self._ids)}"

    # ------------------------------------------------------------------ reading

    def _on_frames(self, frames: list[bytes]) -> None:
        self.last_rx = time.monotonic()
        self.reads += 1
        for frame in frames:
            try:
                self._dispatch(frame)
            except Exception:
                # One bad message or handler bug must not kill the connection.
                log.exception("ami_message_failed", node=self.name, frame_start=frame[:120])
        if self._wbuf:
            # Whatever this read caused goes out now, in one write, not a loop turn later.
            self.flush()
        if self.read_interval_s > 0:
            self._pause_after_read()

    def _dispatch(self, frame: bytes) -> None:
        name = event_name(frame)
        if name is None:
            aid = header(frame, b"ActionID: ")
            p = self._pending.get(aid)
            if p is None:
                return
            if p.lite and frame.startswith(_SUCCESS) and b"\r\nEventList: " not in frame:
                self._finish(aid, {"Response": "Success", "ActionID": aid})
                return
            msg = parse_frame(frame)
            if msg.get("EventList", "").lower() == "start":
                p.items, p.head = [], msg
                self._lists.add(aid)
                return
            self._finish(aid, msg)
            return
        if self._lists and b"\r\nActionID: " in frame:
            aid = header(frame, b"ActionID: ")
            if aid in self._lists:
                msg = parse_frame(frame)
                p = self._pending[aid]
                if msg.get("EventList", "").lower() == "complete":
                    self._finish(aid, p.items or [])
                elif p.items is not None:
                    p.items.append(msg)
                return
        self.on_event(name, frame)

    def _finish(self, aid: str, reply: Reply) -> None:
        p = self._pending.pop(aid)
        self._lists.discard(aid)
        if not p.future.done():
            p.future.set_result(reply)

    def _on_lost(self, exc: Exception | None) -> None:
        if self._closed.is_set():
            return
        if not self.lost_reason:
            self.lost_reason = f"connection lost: {exc}" if exc else "connection closed by peer"
        self.logged_in = False
        # Unwritten actions fail like unanswered ones; a new connection starts empty.
        self._wbuf, self._wlow = [], []
        for handle in (self._flush_soon, self._flush_low):
            if handle is not None:
                handle.cancel()
        self._flush_soon = self._flush_low = None
        if self._resume is not None:
            self._resume.cancel()
            self._resume = None
        pending, self._pending = self._pending, {}
        self._lists.clear()
        for aid, p in pending.items():
            if not p.future.done():
                p.future.set_exception(
                    ConnectionLost(f"{p.action} ({aid}): connection to {self.name} lost before the reply")
                )
        if self._pinger is not None and self._pinger is not asyncio.current_task():
            self._pinger.cancel()
        self._closed.set()
        log.warning("ami_connection_lost", node=self.name, reason=self.lost_reason, unanswered=len(pending))

    async def _ping_loop(self) -> None:
        while self.connected:
            await asyncio.sleep(self.ping_interval_s)
            sent = time.monotonic()
            fut = self.send_action({"Action": "Ping"})
            fut.add_done_callback(_ignore_result)
            await asyncio.sleep(self.ping_timeout_s)
            if self.last_rx < sent and self.connected:
                log.warning(
                    "ami_ping_timeout", node=self.name, silent_s=round(time.monotonic() - self.last_rx, 1)
                )
                self.close("ping timeout")
                return


def _ignore_result(fut: asyncio.Future[Reply]) -> None:
    with contextlib.suppress(BaseException):
        fut.result()
