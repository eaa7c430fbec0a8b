"""Keeps one node connected to its Asterisk: login, the session's event filters,
reconnecting with exponential backoff, and the outbox that holds actions while the
connection is down. Liveness (Pings, half-open links) is the connection's (connection.py).

What a connection means is not decided here: the owner is told through callbacks when
Asterisk is unreachable, when a connection is up (to rebuild its state), while it stays
up (drift checks) and when it is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

import structlog
from pydantic import SecretStr

from cc_router.adapters.ami import actions as act
from cc_router.adapters.ami.arrivals import Arrivals
from cc_router.adapters.ami.connection import (
    AmiConnection,
    AmiError,
    ConnectionLost,
    EventHandler,
    Reply,
    setup_timeout_s,
)
from cc_router.adapters.ami.tls import tls_context
from cc_router.config.models import AsteriskNode

log = structlog.get_logger("cc_router.ami.node")

OUTBOX_MAX = 100_000
"""Actions kept while disconnected (queue_log lines mostly); beyond this the oldest go."""


WANTED_EVENTS = frozenset(
    {
        "UserEvent",
        "Hangup",
        "BridgeLeave",
        "OriginateResponse",
        "DeviceStateChange",
        "Shutdown",
        "DTMFEnd",  # a caller on hold asking for a callback (adapters/ami/callbacks.py)
        "ContactStatus",  # trunks between nodes (adapters/ami/trunk.py); rare
        # A connected caller put on hold by its agent (hold time); also the start and stop
        # of every waiting caller's music, two per call, which the translator skips.
        "MusicOnHoldStart",
        "MusicOnHoldStop",
    }
)
SESSION_FILTERS: tuple[tuple[str, str], ...] = (
    *((f"action(include),name({name})", "") for name in sorted(WANTED_EVENTS)),
    # Only agent legs' new channels matter (whether a leg's channel exists yet). A
    # caller's own came in a read of its own, 1 ms before its CCREnqueue: a wake-up per
    # call for nothing.
    ("action(include),name(Newchannel),header(Uniqueid),method(starts_with)", act.LEG_ID_PREFIX),
    # An agent leg that answered says so in CCRAgentAnswered; only a failed Originate's
    # response is acted on.
    ("action(exclude),name(OriginateResponse),header(Response),method(exact)", "Success"),
    # Local channels (simulated agents, Local/ legs) change device state several times per
    # call; only real devices can belong to agents whose phones the router watches.
    ("action(exclude),name(DeviceStateChange),header(Device),method(starts_with)", "Local/"),
    # A waiting caller leaving its holding bridge (ccr-inbound's BridgeWait) is being
    # connected, not ending its call.
    ("action(exclude),name(BridgeLeave),header(BridgeTechnology),method(exact)", act.HOLDING_BRIDGE),
)
"""AMI `Filter`s this node puts on its own session after login: only the events it handles
reach it (one call: about 12 events instead of 31, so fewer reads and wake-ups). Per
session, not in manager.conf, so other sessions of the same user (tests, benchmarks,
operators) still see everything; list replies (CoreShowChannel...) are not filtered
(checked on Asterisk 22)."""

OnReply = Callable[[Reply | None, BaseException | None], None]

LOG_LINES_MAX_DELAY_S = 0.25
"""How long a gathered queue_log line waits for the next batch of the service's observers
before it is written anyway (a line that no routed event accompanies)."""


async def reap(task: asyncio.Task[None]) -> None:
    """Wait for a task this one has cancelled. Its CancelledError is expected; one meant for
    *this* task (cancelled while it waits) is not swallowed: a supervisor cancelled just as
    its connection dropped would otherwise reconnect and run for ever."""
    try:
        await task
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            raise


class Owner(Protocol):
    """What a connection means to the node that owns it."""

    def on_unreachable(self, refused: bool) -> None:
        """A connect failed: Asterisk cannot be reached now (`refused`: nothing listens on
        its port, so that Asterisk is not running)."""

    async def on_up(self) -> None:
        """Logged in: rebuild the state from Asterisk's (AmiError: try another connection)."""

    async def while_up(self) -> None:
        """Runs while the connection is up (cancelled when it drops)."""

    def on_lost(self) -> None:
        """The connection is gone; the next one follows after the backoff."""


class Supervisor:
    """`run()` forever: connect, `owner.on_up`, serve until the connection drops, `owner.on_lost`, again."""

    def __init__(
        self,
        spec: AsteriskNode,
        secret: SecretStr,
        owner: Owner,
        on_event: EventHandler,
        *,
        name: str,
        may_send: Callable[[], bool] | None = None,
        on_arrival: EventHandler | None = None,
    ) -> None:
        self.spec = spec
        self.may_send = may_send
        """Asked by the connection before every write (leadership fencing); None: always."""
        self.secret = secret
        self.owner = owner
        self.on_event = on_event
        """Every AMI event of the session (read when connecting: replace it before `run`)."""
        self.name = name
        self._tls = tls_context(spec)
        self.node = spec.name
        self.conn: AmiConnection | None = None
        self.ready = False
        """Logged in and `on_up` done (the state rebuilt from Asterisk's): routing is live."""
        self.connects = 0
        self.filters_refused = False
        """Asterisk refused a session filter: this node's sessions go unfiltered from then on."""
        self.last_error = ""
        self.outbox: deque[tuple[act.Action, OnReply | None]] = deque()
        self.log_lines: list[tuple[act.Action, OnReply | None] | Callable[[], Sequence[act.Action]]] = []
        """queue_log lines gathered for `write_log_lines` (see `write`), in order: actions,
        or what builds them there (`log_later`)."""
        self._log_timer: asyncio.TimerHandle | None = None
        self._outbox_wake = asyncio.Event()
        self._stopped = asyncio.Event()
        self.arrivals: Arrivals | None = None
        """The arrivals session (arrivals.py), with `on_arrival` for its events, when the
        node's main session is read in batches (`event_batch_s`, filtered sessions)."""
        if on_arrival is not None and spec.event_batch_s > 0 and spec.event_filters:
            self.arrivals = Arrivals(spec, secret, on_arrival, tls_context=self._tls)

    def stop(self) -> None:
        """End `run` for good (a node drained away by a reload): the connection is closed,
        nothing more is sent, and the owner is not told the node was lost."""
        self._stopped.set()
        if self.conn is not None:
            self.conn.close("stopped")

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopped.wait(), seconds)

    async def run(self) -> None:
        """Connect, rebuild, serve; reconnect with exponential backoff until `stop`."""
        backoff = 0.5
        sender = asyncio.create_task(self._send_loop(), name=f"{self.name}-send")
        try:
            while not self._stopped.is_set():
                conn = AmiConnection.to_node(
                    self.spec,
                    self.secret,
                    self.on_event,
                    name=self.spec.name,
                    tls=self._tls,
                    may_send=self.may_send,
                )
                try:
                    await conn.connect(timeout_s=setup_timeout_s(self.spec))
                except (OSError, TimeoutError, AmiError) as exc:
                    conn.close("connect failed")
                    if self._stopped.is_set():
                        break
                    self.last_error = f"{type(exc).__name__}: {exc}"
                    self.owner.on_unreachable(isinstance(exc, ConnectionRefusedError))
                    log.warning(
                        "ami_connect_failed", node=self.node, error=self.last_error, retry_in_s=backoff
                    )
                    await self._pause(backoff)
                    backoff = min(self.spec.reconnect_max_s, backoff * 2)
                    continue
                if self._stopped.is_set():
                    conn.close("stopped")
                    break
                self.conn = conn
                self.connects += 1
                try:
                    await self._filter_session(conn)
                    self._outbox_wake.set()
                    await self.owner.on_up()
                    self.ready = True
                    self.last_error = ""
                    backoff = 0.5
                    log.info("ami_ready", node=self.node, connects=self.connects)
                except (AmiError, TimeoutError) as exc:
                    self.last_error = f"snapshot failed: {exc}"
                    log.warning("ami_snapshot_failed", node=self.node, error=str(exc))
                    conn.close("snapshot failed")
                watch = asyncio.create_task(self.owner.while_up(), name=f"{self.name}-drift")
                arrivals = None
                if self.arrivals is not None and self.ready and not self.filters_refused:
                    arrivals = asyncio.create_task(self.arrivals.keep(conn), name=f"{self.name}-arrivals")
                try:
                    await conn.wait_closed()
                finally:
                    watch.cancel()
                    await reap(watch)
                    if arrivals is not None:
                        arrivals.cancel()
                        await reap(arrivals)
                self.ready = False
                self.last_error = conn.lost_reason
                if self._stopped.is_set():
                    break
                self.owner.on_lost()
                await self._pause(backoff)
                backoff = min(self.spec.reconnect_max_s, backoff * 2)
        finally:
            sender.cancel()
            await reap(sender)
            if self.conn is not None:
                self.conn.close("stopped")
            self.ready = False

    async def _filter_session(self, conn: AmiConnection) -> None:
        if not self.spec.event_filters or self.filters_refused:
            return
        replies = await asyncio.wait_for(
            asyncio.gather(
                *(conn.send_action(act.session_filter(c, f)) for c, f in SESSION_FILTERS),
                return_exceptions=True,
            ),
            setup_timeout_s(self.spec),
        )
        refused = []
        for reply in replies:
            if isinstance(reply, ConnectionLost):
                raise reply
            if not isinstance(reply, dict) or reply.get("Response") != "Success":
                refused.append(str(reply.get("Message", "") if isinstance(reply, dict) else reply))
        if not refused:
            return
        # Older Asterisk (no advanced filters) or no `system` write permission: unfiltered
        # events are handled the same, only at a higher cost.
        self.filters_refused = True
        log.warning("ami_session_filter_failed", node=self.node, refused=len(refused), reply=refused[0])
        if len(refused) < len(replies):
            # Some took: the session would pass only what they include (a Newchannel of an
            # agent leg is passed by a filter of its own). A new one, unfiltered, instead.
            raise AmiError(
                f"{len(refused)} of {len(replies)} session filters refused: reconnecting unfiltered"
            )

    # ------------------------------------------------------------------ sending

    async def send_action(self, action: Mapping[str, str | Sequence[str]]) -> Reply:
        """Any action, its reply awaited; ConnectionLost if down (nothing is ever re-sent)."""
        conn = self.conn
        if conn is None:
            raise ConnectionLost(f"{action.get('Action')}: {self.node} not connected")
        return await conn.send_action(action)

    def enqueue(self, action: act.Action, on_reply: OnReply | None = None) -> None:
        """Write the action now if nothing is queued before it, else queue it for the send
        loop. Either way the event path never waits: writing to the transport is buffered."""
        conn = self.conn
        if not self.outbox and conn is not None and conn.connected:
            # Waiting for the send loop's next turn cost tens of ms at 100 calls/s, because it
            # only runs once the whole AMI read has been handled.
            self.write(conn, action, on_reply)
            return
        if len(self.outbox) >= OUTBOX_MAX:
            dropped = self.outbox.popleft()
            log.error("ami_outbox_full", node=self.node, dropped=dropped[0].get("Action"))
        self.outbox.append((action, on_reply))
        self._outbox_wake.set()

    def take_unsent(self, action: str) -> list[act.Action]:
        """Remove the queued actions named `action` from the outbox (they were never written)."""
        taken = [a for a, _ in self.outbox if a.get("Action") == action]
        if taken:
            self.outbox = deque(item for item in self.outbox if item[0].get("Action") != action)
        return taken

    async def _send_loop(self) -> None:
        while True:
            await self._outbox_wake.wait()
            self._outbox_wake.clear()
            conn = self.conn
            while self.outbox and conn is not None and conn.connected:
                action, on_reply = self.outbox.popleft()
                # Held back already: queue_log lines go now, behind the rest.
                self.send(conn, action, on_reply, low_priority=act.is_queue_log(action))
            await asyncio.sleep(0)

    def write(self, conn: AmiConnection, action: act.Action, on_reply: OnReply | None) -> None:
        if act.is_queue_log(action):
            # Not urgent: gathered and written together with the service's next batch of
            # observers (`write_log_lines`, run there by the node), so that sending the
            # three lines of a call and handling their replies runs once per batch, warm,
            # instead of on the routing path of each event (live_router --parts, 30 calls/s:
            # the node's sink 0.46 -> 0.33 ms per call, the batch 0.06 ms).
            self.log_lines.append((action, on_reply))
            self._log_soon()
            return
        self.send(conn, action, on_reply)

    def log_later(self, build: Callable[[], Sequence[act.Action]]) -> None:
        """queue_log lines that `build` makes when they are written, with the others in
        order (`write_log_lines`): their records are built off the routing path too.
        Behind a queue (disconnected, or the outbox not yet written) they are built now
        and join it in order, as `enqueue` would put them."""
        conn = self.conn
        if self.outbox or conn is None or not conn.connected:
            for action in build():
                self.enqueue(action)
            return
        self.log_lines.append(build)
        self._log_soon()

    def _log_soon(self) -> None:
        if self._log_timer is None:
            loop = asyncio.get_running_loop()
            self._log_timer = loop.call_later(LOG_LINES_MAX_DELAY_S, self.write_log_lines)

    def send(
        self, conn: AmiConnection, action: act.Action, on_reply: OnReply | None, *, low_priority: bool = False
    ) -> None:
        # Every reply handler here reads only Response (and Message when it failed), so
        # replies need no parse.
        fut = conn.send_action(action, lite=True, low_priority=low_priority)
        fut.add_done_callback(self.reply_handler(action, on_reply))

    def write_log_lines(self) -> None:
        """Write the gathered queue_log lines in this pass of the event loop, in one write;
        while disconnected they join the outbox, in order."""
        if self._log_timer is not None:
            self._log_timer.cancel()
            self._log_timer = None
        if not self.log_lines:
            return
        gathered, self.log_lines = self.log_lines, []
        lines: list[tuple[act.Action, OnReply | None]] = []
        for entry in gathered:
            if isinstance(entry, tuple):
                lines.append(entry)
                continue
            try:
                lines.extend((action, None) for action in entry())
            except Exception:
                # A line that cannot be built is lost alone, not the batch's others.
                log.exception("ami_queue_log_line_failed", node=self.node)
        conn = self.conn
        if self.outbox or conn is None or not conn.connected:
            self.outbox.extend(lines)
            self._outbox_wake.set()
            return
        for action, on_reply in lines:
            # Written at the end of this pass of the loop, in one write with any urgent
            # action of the same pass (AmiConnection.send_action).
            self.send(conn, action, on_reply)

    def reply_handler(
        self, action: act.Action, on_reply: OnReply | None
    ) -> Callable[[asyncio.Future[Reply]], None]:
        def done(fut: asyncio.Future[Reply]) -> None:
            exc = fut.exception() if not fut.cancelled() else asyncio.CancelledError()
            reply = None if exc is not None else fut.result()
            if isinstance(reply, dict) and reply.get("Response") not in ("Success", "Goodbye"):
                log.warning(
                    "ami_action_failed",
                    node=self.node,
                    action=action.get("Action"),
                    message=reply.get("Message", ""),
                    channel=action.get("Channel", ""),
                )
            elif exc is not None and not isinstance(exc, asyncio.CancelledError):
                log.warning(
                    "ami_action_unanswered", node=self.node, action=action.get("Action"), error=str(exc)
                )
            if on_reply is not None:
                try:
                    on_reply(reply, exc)
                except Exception:
                    log.exception("ami_reply_handler_failed", node=self.node, action=action.get("Action"))

        return done

    def health(self) -> dict[str, object]:
        conn = self.conn
        return {
            "ready": self.ready,
            "connected": bool(conn is not None and conn.connected),
            "connects": self.connects,
            "outbox": len(self.outbox),
            "last_error": self.last_error,
            "arrivals_session": self.arrivals is not None and self.arrivals.up,
        }
