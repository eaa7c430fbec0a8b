"""One AMI connection: login, actions with replies, keep-alive, loss detection.

Unlike panoramisk's Manager this never re-sends anything: when the connection drops,
every action still waiting for its reply fails with `ConnectionLost` (an Originate sent
twice rings an agent twice). Whoever sent it decides from a snapshot what happened.
Liveness is checked, not assumed: a Ping goes out every `ping_interval_s`, and a
connection that delivers nothing (no Pong, no event) for `ping_timeout_s` after it is
closed as dead, which is how a half-open TCP connection (PBX host gone) is noticed.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import structlog
from pydantic import SecretStr

from cc_router.adapters.ami.protocol import AmiProtocol, Message, encode_action, event_name, parse_frame

log = structlog.get_logger("cc_router.ami.connection")

EventHandler = Callable[[str, bytes], None]
"""(event name, raw message bytes): parse only if the name is interesting."""
Reply = Message | list[Message]


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
    ) -> None:
        self.host, self.port, self.username = host, port, username
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

    # ------------------------------------------------------------------ lifecycle

    async def connect(self, timeout_s: float = 10.0) -> None:
        """Open the TCP connection and log in; raises on failure (connection closed)."""
        loop = asyncio.get_running_loop()
        proto = AmiProtocol(self._on_frames, self._on_lost)
        await asyncio.wait_for(loop.create_connection(lambda: proto, self.host, self.port), timeout_s)
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

    def send_action(self, action: Mapping[str, str | Sequence[str]]) -> asyncio.Future[Reply]:
        """Send now; the future gets the Response (a list of the items for actions that
        answer with an event list, e.g. CoreShowChannels). Fails with ConnectionLost if
        not connected or lost before the reply."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Reply] = loop.create_future()
        name = str(action.get("Action", "?"))
        if not self.connected or self.protocol is None:
            fut.set_exception(ConnectionLost(f"{name}: not connected to {self.name}"))
            return fut
        aid = str(action.get("ActionID") or f"{self._prefix}{next(self._ids)}")
        self._pending[aid] = _Pending(name, fut)
        self.protocol.send_bytes(encode_action({**action, "ActionID": aid}))
        return fut

    def action_id_for_next(self) -> str:
        """An ActionID to put in an action yourself (to match events that carry it)."""
        return f"{self._prefix}{next(self._ids)}"

    # ------------------------------------------------------------------ reading

    def _on_frames(self, frames: list[bytes]) -> None:
        self.last_rx = time.monotonic()
        for frame in frames:
            try:
                self._dispatch(frame)
            except Exception:
                # One bad message or handler bug must not kill the connection.
                log.exception("ami_message_failed", node=self.name, frame_start=frame[:120])

    def _dispatch(self, frame: bytes) -> None:
        name = event_name(frame)
        if name is None:
            msg = parse_frame(frame)
            aid = msg.get("ActionID", "")
            p = self._pending.get(aid)
            if p is None:
                return
            if msg.get("EventList", "").lower() == "start":
                p.items, p.head = [], msg
                self._lists.add(aid)
                return
            self._finish(aid, msg)
            return
        if self._lists and b"\r\nActionID: " in frame:
            msg = parse_frame(frame)
            aid = msg.get("ActionID", "")
            if aid in self._lists:
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
