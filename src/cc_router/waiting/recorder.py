"""Callbacks into SQL, in the order the core decided them, and back out after a restart.

A sink (`sink`) takes the callback commands as they come and a component (`run`) writes
them one by one with `CallbackStore`, retrying while the store is down: a callback the
core accepted is never dropped. Once a request is written, `on_stored` hooks run (the
AMI side thanks the caller only then).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog

from cc_router.core import commands as cmd
from cc_router.core import events as ev
from cc_router.core.vocabulary import (
    CallbackResult,
    CallbackSource,
    CallbackStatus,
    Outcome,
)
from cc_router.service import handles
from cc_router.store.callbacks import CallbackStore, StoredCallback

log = structlog.get_logger("cc_router.callbacks")

ENDED_BY_ATTEMPT = frozenset({Outcome.ANSWERED, Outcome.CALLBACK_FAILED})
"""Outcomes whose status the last attempt already wrote (connected, failed)."""


@dataclass(frozen=True, slots=True)
class Customer:
    """Whom a callback calls and from which node (known to the AMI side)."""

    number: str
    name: str
    node: str


def utc(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


def epoch(d: datetime) -> float:
    # SQLite hands timezone-aware columns back naive; they were written in UTC.
    return (d if d.tzinfo is not None else d.replace(tzinfo=UTC)).timestamp()


@dataclass(frozen=True, slots=True)
class NewCallback:
    accepted: cmd.CallbackAccepted
    customer: Customer


Write = NewCallback | cmd.CallbackDialling | cmd.CallbackAttempted | cmd.InteractionFinished


class CallbackRecorder:
    name = "callbacks"

    def __init__(self, store: CallbackStore, customer_of: Callable[[str], Customer | None]) -> None:
        self.store = store
        self.customer_of = customer_of
        self.on_stored: list[Callable[[str], None]] = []
        self.open: set[str] = set()
        """Callbacks not ended yet (their interaction's end closes the row)."""
        self._queue: asyncio.Queue[Write] | None = None
        self._pending: list[Write] = []
        self.written = 0

    @handles(cmd.CallbackAccepted, cmd.CallbackDialling, cmd.CallbackAttempted, cmd.InteractionFinished)
    def sink(self, commands: Sequence[cmd.Command], now: float) -> None:
        for c in commands:
            if isinstance(c, cmd.CallbackAccepted):
                if c.source is CallbackSource.RESTORED:
                    self.open.add(c.interaction_id)
                    continue
                who = self.customer_of(c.interaction_id)
                if who is None:
                    log.error("callback_without_customer", iid=c.interaction_id)
                    continue
                self.open.add(c.interaction_id)
                self._put(NewCallback(c, who))
            elif isinstance(c, cmd.CallbackDialling | cmd.CallbackAttempted):
                if c.interaction_id in self.open:
                    self._put(c)
            elif isinstance(c, cmd.InteractionFinished) and c.interaction_id in self.open:
                self.open.discard(c.interaction_id)
                if c.outcome not in ENDED_BY_ATTEMPT:
                    self._put(c)

    def _put(self, w: Write) -> None:
        if self._queue is None:
            self._pending.append(w)  # before `run` (a restore at start)
        else:
            self._queue.put_nowait(w)

    async def run(self) -> None:
        if self._queue is None:
            self._queue = asyncio.Queue()
            for w in self._pending:
                self._queue.put_nowait(w)
            self._pending.clear()
        queue = self._queue
        while True:
            w = await queue.get()
            backoff = 0.2
            while True:
                try:
                    await self._write(w)
                    break
                except Exception as exc:
                    log.warning(
                        "callback_store_failed", error=f"{type(exc).__name__}: {exc}", retry_in_s=backoff
                    )
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 5.0)
            self.written += 1
            if isinstance(w, NewCallback):
                iid = w.accepted.interaction_id
                for hook in self.on_stored:
                    try:
                        hook(iid)
                    except Exception:
                        log.exception("callback_stored_hook_failed", iid=iid)

    async def _write(self, c: Write) -> None:
        if isinstance(c, NewCallback):
            accepted, who = c.accepted, c.customer
            await self.store.add(
                StoredCallback(
                    callback_id=accepted.interaction_id,
                    interaction_id=accepted.interaction_id,
                    queue=accepted.queue,
                    priority=accepted.priority,
                    since=utc(accepted.since),
                    number=who.number,
                    caller_name=who.name,
                    node=who.node,
                    status=CallbackStatus.WAITING,
                    attempts=0,
                    next_attempt_at=None,
                ),
                utc(accepted.at),
            )
        elif isinstance(c, cmd.CallbackDialling):
            await self.store.attempt_started(c.interaction_id, c.attempt, c.agent_id, utc(c.at))
        elif isinstance(c, cmd.CallbackAttempted):
            if c.result is CallbackResult.ANSWERED:
                status = CallbackStatus.CONNECTED
            elif c.next_at is None:
                status = CallbackStatus.FAILED
            else:
                status = CallbackStatus.WAITING
            await self.store.attempt_ended(
                c.interaction_id,
                c.attempt,
                str(c.result),
                utc(c.at),
                status=status,
                next_attempt_at=utc(c.next_at) if c.next_at is not None else None,
            )
        elif isinstance(c, cmd.InteractionFinished):
            await self.store.set_status(c.interaction_id, CallbackStatus.CANCELLED, utc(c.ended_at))

    async def restore_events(self, now: float) -> list[tuple[StoredCallback, ev.CallbackRestored]]:
        """Every callback still open in the store, as the event that puts it back in its
        queue; one whose attempt was in progress when the router stopped counts it as
        failed (the agent and customer legs went with the old process's calls)."""
        out: list[tuple[StoredCallback, ev.CallbackRestored]] = []
        for row in await self.store.open_callbacks():
            not_before = epoch(row.next_attempt_at) if row.next_attempt_at is not None else None
            if row.status == CallbackStatus.DIALLING:
                await self.store.attempt_ended(
                    row.callback_id, row.attempts, str(CallbackResult.FAILED), utc(now),
                    status=CallbackStatus.WAITING,
                )  # fmt: skip
            caller = f"{row.caller_name} <{row.number}>" if row.caller_name else row.number
            out.append(
                (
                    row,
                    ev.CallbackRestored(
                        row.interaction_id,
                        row.queue,
                        row.priority,
                        epoch(row.since),
                        caller,
                        row.attempts,
                        not_before,
                    ),
                )
            )
        return out
