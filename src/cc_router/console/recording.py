"""Call recording: Asterisk's MixMonitor on the caller's channel once a call is connected,
the file's path, length and size written onto the interaction's row after the call, and
old recordings deleted after `recording.retention_days`.

Which calls: the queue's `record` (true, false, or a percentage, chosen by a hash of the
interaction id so the choice is the same on every router). Nothing is sent to Asterisk
for a queue that does not record.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
import time
import wave
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import structlog
from sqlalchemy import and_, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from cc_router.config import Config
from cc_router.core import commands as cmd
from cc_router.core.spec import Channel
from cc_router.service import handles
from cc_router.store.tables import InteractionRow, utc

log = structlog.get_logger("cc_router.recording")

SAFE = re.compile(r"[^A-Za-z0-9_.-]")
SETTLE_S = 0.5
"""A file whose size has not changed for this long is finished (MixMonitor closes it
just after the channel hangs up)."""
FINISH_TIMEOUT_S = 30.0
RETRY_S = 10.0


class CallerLegs(Protocol):
    """What the recorder needs from an AMI node (adapters/ami `AmiNode`)."""

    @property
    def registry(self) -> Any: ...
    async def send_action(self, action: Mapping[str, str | Sequence[str]]) -> Any: ...


def chosen(iid: str, setting: bool | float) -> bool:
    """Whether a connected call of a queue with `record: setting` is recorded."""
    if isinstance(setting, bool):
        return setting
    if setting <= 0:
        return False
    bucket = int.from_bytes(hashlib.sha256(iid.encode()).digest()[:4], "big") % 10_000
    return bucket < setting * 100


def relative_path(iid: str, agent_id: str, at: float) -> str:
    day = datetime.fromtimestamp(at, tz=UTC).strftime("%Y/%m/%d")
    return f"{day}/{SAFE.sub('_', iid)}-{SAFE.sub('_', agent_id)}.wav"


@dataclass(frozen=True)
class Measured:
    path: str
    seconds: float
    size: int


def measure(path: Path) -> Measured | None:
    """Length from the WAV header (what was written), size from the file system."""
    try:
        size = path.stat().st_size
        with wave.open(str(path), "rb") as w:
            seconds = w.getnframes() / float(w.getframerate())
    except (OSError, wave.Error, EOFError, ZeroDivisionError):
        return None
    return Measured(str(path), round(seconds, 3), size)


@dataclass
class _Started:
    iid: str
    agent_id: str
    queue: str
    path: Path


class Recorder:
    """A command sink (`on_commands`) and a component (`run`) of the service."""

    name = "recording"

    def __init__(
        self,
        config: Callable[[], Config],
        engine: AsyncEngine,
        nodes: Iterable[CallerLegs],
        *,
        stored: Callable[[], Any] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.engine = engine
        self.nodes = list(nodes)
        self.stored = stored
        self.clock = clock
        self.pending: set[str] = set()
        """Connected calls a MixMonitor is (being) started for, until they finish."""
        self.recording: dict[str, _Started] = {}
        self._work: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self.measured: dict[str, Measured] = {}
        """Recordings written to their rows (for tests and the log)."""

    # ------------------------------------------------------------------ routing path

    def setting(self, queue: str) -> bool | float:
        for q in self.config().queues:
            if q.name == queue:
                return q.record
        return False

    @handles(cmd.InteractionConnected, cmd.InteractionFinished)
    def on_commands(self, commands: Sequence[cmd.Command], now: float) -> None:
        for c in commands:
            if isinstance(c, cmd.InteractionConnected) and c.channel is Channel.VOICE:
                if chosen(c.interaction_id, self.setting(c.queue)):
                    self.pending.add(c.interaction_id)
                    self._work.put_nowait(("start", (c, now)))
            elif isinstance(c, cmd.InteractionFinished) and c.interaction_id in self.pending:
                # Queued after its start, which the loop finishes first.
                self.pending.discard(c.interaction_id)
                self._work.put_nowait(("finish", c))

    # ------------------------------------------------------------------ component

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._retention_loop())
            while True:
                kind, item = await self._work.get()
                if kind == "start":
                    await self._start(*item)
                else:
                    tg.create_task(self._finish(item))

    def _caller_channel(self, iid: str) -> tuple[CallerLegs, str] | None:
        for node in self.nodes:
            leg = node.registry.by_iid.get(iid)
            if leg is not None:
                return node, str(leg.channel)
        return None

    async def _start(self, c: cmd.InteractionConnected, now: float) -> None:
        found = self._caller_channel(c.interaction_id)
        if found is None:
            log.warning("recording_no_channel", interaction_id=c.interaction_id)
            return
        node, channel = found
        rel = relative_path(c.interaction_id, c.agent_id, now)
        rec = self.config().recording
        router_path = Path(rec.dir) / rel
        with contextlib.suppress(OSError):
            # Asterisk creates missing directories itself; this is for a shared mount.
            router_path.parent.mkdir(parents=True, exist_ok=True)
        action = {"Action": "MixMonitor", "Channel": channel, "File": f"{rec.asterisk_path}/{rel}"}
        try:
            reply = await node.send_action(action)
        except Exception as e:  # the node is down: the call goes on unrecorded
            log.warning("recording_not_started", interaction_id=c.interaction_id, error=type(e).__name__)
            return
        if not isinstance(reply, dict) or reply.get("Response") != "Success":
            message = reply.get("Message") if isinstance(reply, dict) else None
            log.warning("recording_refused", interaction_id=c.interaction_id, message=message)
            return
        self.recording[c.interaction_id] = _Started(c.interaction_id, c.agent_id, c.queue, router_path)
        log.info("recording_started", interaction_id=c.interaction_id, agent_id=c.agent_id, file=rel)

    async def _finish(self, c: cmd.InteractionFinished) -> None:
        started = self.recording.pop(c.interaction_id, None)
        if started is None:
            return
        m = await self._settled(started.path)
        if m is None:
            log.warning("recording_missing", interaction_id=c.interaction_id, file=str(started.path))
            return
        where = and_(
            InteractionRow.interaction_id == c.interaction_id,
            InteractionRow.queue == c.queue,
            InteractionRow.agent_id == started.agent_id,
        )
        deadline = time.monotonic() + FINISH_TIMEOUT_S
        backoff = 0.1
        while True:
            if self.stored is not None:
                await self.stored()
            try:
                async with self.engine.begin() as conn:
                    done = await conn.execute(
                        update(InteractionRow)
                        .where(where)
                        .values(recording_path=m.path, recording_s=m.seconds, recording_bytes=m.size)
                    )
                if done.rowcount:
                    break
            except SQLAlchemyError as e:
                log.warning("recording_row_retry", interaction_id=c.interaction_id, error=type(e).__name__)
            if time.monotonic() > deadline:
                log.error("recording_row_missing", interaction_id=c.interaction_id, file=m.path)
                return
            # The writer batches rows: the interaction's may not be in yet.
            await asyncio.sleep(backoff)
            backoff = min(2.0, backoff * 2)
        self.measured[c.interaction_id] = m
        log.info("recording_stored", interaction_id=c.interaction_id, seconds=m.seconds, bytes=m.size)

    async def _settled(self, path: Path) -> Measured | None:
        deadline = time.monotonic() + FINISH_TIMEOUT_S
        last = -1
        while time.monotonic() < deadline:
            try:
                size = path.stat().st_size
            except OSError:
                size = -1
            if size > 0 and size == last:
                return measure(path)
            last = size
            await asyncio.sleep(SETTLE_S)
        return measure(path)

    # ------------------------------------------------------------------ retention

    async def _retention_loop(self) -> None:
        while True:
            wait = self.config().recording.retention_check_s
            try:
                await self.enforce_retention()
            except (OSError, SQLAlchemyError) as e:
                # E.g. the store still migrating at start-up: try again soon, not in an hour.
                log.warning("recording_retention_failed", error=f"{type(e).__name__}: {str(e)[:200]}")
                wait = min(wait, RETRY_S)
            await asyncio.sleep(wait)

    async def enforce_retention(self) -> int:
        """Delete recordings older than `retention_days` and clear their rows' path."""
        rec = self.config().recording
        cutoff = self.clock() - rec.retention_days * 86_400
        removed = await asyncio.to_thread(_delete_older, Path(rec.dir), cutoff)
        async with self.engine.begin() as conn:
            await conn.execute(
                update(InteractionRow)
                .where(InteractionRow.recording_path.is_not(None), InteractionRow.ended_at < utc(cutoff))
                .values(recording_path=None)
            )
        if removed:
            log.info("recordings_deleted", files=removed, older_than_days=rec.retention_days)
        return removed


def _delete_older(root: Path, cutoff: float) -> int:
    if not root.is_dir():
        return 0
    removed = 0
    for f in root.rglob("*.wav"):
        try:
            if f.stat().st_mtime < cutoff:
                f.unlink()
                removed += 1
        except OSError:
            continue
    return removed
