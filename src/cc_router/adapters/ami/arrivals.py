"""The arrivals session: a second AMI session to the same Asterisk that carries only
CCREnqueue, so that the node's main session can be read in batches (`event_batch_s`).

A caller joining a queue is the one event whose handling the caller waits for: it leads
to the Originate of the agent leg. Everything else the main session brings (the agent
leg's channels, its answer, the hang-ups, a failed Originate) settles calls already
placed, and may wait a tenth of a second. With CCREnqueue on a session of its own, read
as it comes, the main session is paced (connection.py, `AmiConnection.pace`) and a
call costs the router about two reads instead of eight.

The main session stays the whole record: its filters still pass CCREnqueue, in order
with the rest. An arrival read here first is admitted at once, and its copy in the main
session's next batch finds the caller already held (`Registry.knows`); one read here
after its Hangup came on the main session is not revived. So this session may drop,
lag or never come up (an Asterisk without advanced filters) and nothing is lost: while it
is not up, the main session is read as data arrives, as without it.
"""

from __future__ import annotations

import asyncio
import ssl

import structlog
from pydantic import SecretStr

from cc_router.adapters.ami import actions as act
from cc_router.adapters.ami.connection import AmiConnection, AmiError, EventHandler, setup_timeout_s
from cc_router.config.models import AsteriskNode

log = structlog.get_logger("cc_router.ami.arrivals")

ARRIVAL_EVENT = "CCREnqueue"
ARRIVALS_FILTER = (
    "action(include),name(UserEvent),header(UserEvent),method(exact)",
    ARRIVAL_EVENT,
)
"""The one Filter of the arrivals session (advanced filter syntax, Asterisk 20+)."""


class FiltersRefused(AmiError):
    """Asterisk refused the arrivals session's filter: it would carry every event."""


class Arrivals:
    """Keeps the arrivals session up while the main session `main` is; paces `main`'s
    reads while it is up (`keep`, run as a task, cancelled when `main` is gone)."""

    def __init__(
        self,
        spec: AsteriskNode,
        secret: SecretStr,
        on_event: EventHandler,
        *,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self.spec = spec
        self.secret = secret
        self.on_event = on_event
        self._tls = tls_context
        self.conn: AmiConnection | None = None
        self.last_error = ""

    @property
    def up(self) -> bool:
        return self.conn is not None and self.conn.connected

    async def keep(self, main: AmiConnection) -> None:
        backoff = 0.5
        try:
            while main.connected:
                conn = self._connection()
                try:
                    await conn.connect(timeout_s=setup_timeout_s(self.spec))
                    await self._filter(conn)
                except FiltersRefused as exc:
                    conn.close("filter refused")
                    self.last_error = str(exc)
                    log.warning("ami_arrivals_unfiltered", node=self.spec.name, reply=str(exc))
                    return  # the main session stays unpaced: as without this session
                except (OSError, TimeoutError, AmiError) as exc:
                    conn.close("connect failed")
                    self.last_error = f"{type(exc).__name__}: {exc}"
                    log.warning(
                        "ami_arrivals_connect_failed",
                        node=self.spec.name,
                        error=self.last_error,
                        retry_in_s=backoff,
                    )
                    await asyncio.sleep(backoff)
                    backoff = min(self.spec.reconnect_max_s, backoff * 2)
                    continue
                self.conn = conn
                backoff = 0.5
                main.pace(self.spec.event_batch_s)
                log.info("ami_arrivals_up", node=self.spec.name, batch_s=self.spec.event_batch_s)
                await conn.wait_closed()
                # Without it, arrivals would wait for the next batch: read as they come.
                main.pace(0)
                self.last_error = conn.lost_reason
                log.warning("ami_arrivals_lost", node=self.spec.name, reason=conn.lost_reason)
                await asyncio.sleep(backoff)
        finally:
            main.pace(0)  # also when cancelled while up
            if self.conn is not None:
                self.conn.close("main session gone")
                self.conn = None

    def _connection(self) -> AmiConnection:
        # No leadership gate (`may_send`): this session only logs in, filters and pings;
        # it changes nothing in Asterisk.
        return AmiConnection.to_node(
            self.spec, self.secret, self.on_event, name=f"{self.spec.name}-arrivals", tls=self._tls
        )

    async def _filter(self, conn: AmiConnection) -> None:
        reply = await asyncio.wait_for(
            conn.send_action(act.session_filter(*ARRIVALS_FILTER)), setup_timeout_s(self.spec)
        )
        if not isinstance(reply, dict) or reply.get("Response") != "Success":
            raise FiltersRefused(str(reply.get("Message", "") if isinstance(reply, dict) else reply))
