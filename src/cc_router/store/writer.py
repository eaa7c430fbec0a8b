"""Batched, non-blocking persistence of what the core decides.

`submit()` runs inside the routing loop, so it only appends to a deque; the SQL happens in
`run()`. A failed batch stays at the head of the deque and is retried with backoff, so a
database outage costs memory, never records.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections import ChainMap, deque
from collections.abc import Iterable, MutableMapping, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from cc_router.core.commands import (
    AgentStateChanged,
    Command,
    Explanation,
    InteractionFinished,
    Offer,
)
from cc_router.core.spec import Channel
from cc_router.core.vocabulary import AgentState, Outcome, Trigger
from cc_router.service import handles
from cc_router.store import journal as jr
from cc_router.store.engine import open_engine
from cc_router.store.tables import agent_states, decisions, interactions, utc, utc_or_none
from cc_router.url_redaction import redact_url

log = logging.getLogger(__name__)

_STORED = (InteractionFinished, AgentStateChanged, Offer)
_Item = tuple[InteractionFinished | AgentStateChanged | Offer, float]


def explanation_json(e: Explanation) -> dict[str, Any]:
    # Field by field, not dataclasses.asdict: that deep-copies every tuple recursively and
    # was most of the cost of storing an offer. JSON has no tuples; lists of [id, score]
    # keep candidates readable in SQL.
    return {
        "trigger": e.trigger,
        "queue": e.queue,
        "strategy": e.strategy,
        "step": e.step,
        "requirement": e.requirement,
        "chosen": e.chosen,
        "score": list(e.score),
        "candidates": [[cid, list(score)] for cid, score in e.candidates],
        "excluded": [list(x) for x in e.excluded],
        "available": e.available,
        "remote": e.remote,
        "route": e.route,
    }


def _interaction_row(c: InteractionFinished) -> dict[str, Any]:
    return {
        "interaction_id": c.interaction_id,
        "channel": str(c.channel),
        "queue": c.queue,
        "caller": c.caller,
        "agent_id": c.agent_id,
        "enqueued_at": utc(c.enqueued_at),
        "offered_at": utc_or_none(c.offered_at),
        "answered_at": utc_or_none(c.answered_at),
        "ended_at": utc(c.ended_at),
        "outcome": c.outcome,
        "wait_s": c.wait_s,
        "talk_s": c.talk_s,
        "hold_s": c.hold_s,
        "step": c.step,
        "misses": c.misses,
        "disposition": c.disposition,
        "explanation": None if c.explanation is None else explanation_json(c.explanation),
    }


def _decision_row(c: Offer, now: float) -> dict[str, Any]:
    return {
        "offer_id": c.offer_id,
        "interaction_id": c.interaction_id,
        "agent_id": c.agent_id,
        "queue": c.queue,
        "channel": str(c.channel),
        "at": utc(now),
        "explanation": explanation_json(c.explanation),
    }


class StoreWriter:
    """Writes InteractionFinished, AgentStateChanged and Offer commands to the store.

    Use `start()` (or run `run()` in your own task group), `submit()` from the routing loop,
    and `await close()` at shutdown. The schema must exist (`cc_router.store.migrate`).
    """

    def __init__(
        self,
        url: str,
        batch_size: int = 500,
        flush_interval_s: float = 1.0,
        *,
        max_backoff_s: float = 30.0,
        engine: AsyncEngine | None = None,
        journal: jr.Journal | None = None,
    ) -> None:
        self.url = url
        self.batch_size = batch_size
        self.flush_interval_s = flush_interval_s
        self.max_backoff_s = max_backoff_s
        self._engine = engine or open_engine(url)
        self._owns_engine = engine is None
        self._buf: deque[_Item] = deque()
        self._writing = asyncio.Lock()
        """One batch at a time: `run()` and `flush()` (the interval job's) may overlap."""
        self._wake = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        self._running = False
        self.journal = journal
        self._records: deque[tuple[int, int]] = deque()
        """(commands, journal seq) per journalled record still in the buffer, oldest first."""
        self._unsynced = False
        self.replayed = 0
        self._open_agents: dict[str, tuple[str, str]] | None = None
        """Agents with an open (ended_at NULL) agent_states row, and that row's (state,
        reason); loaded on first flush."""
        self.healthy = True
        self.transactions = 0
        self.rows_written = 0
        self.last_error: str = ""

    @property
    def backlog(self) -> int:
        return len(self._buf)

    @property
    def engine(self) -> AsyncEngine:
        return self._engine

    @handles(*_STORED)
    def submit(self, commands: Iterable[Command], now: float) -> None:
        """Queue the commands worth storing. Never awaits, never touches the database."""
        buf = self._buf
        before = len(buf)
        for c in commands:
            if isinstance(c, _STORED):
                buf.append((c, now))
        if self.journal is not None and len(buf) > before:
            added = len(buf) - before
            try:
                seq = self.journal.append([buf[i] for i in range(before, len(buf))])
            except OSError as exc:
                # No space for the journal: the rows still go to the store, only a crash
                # before they do would lose them. Counted as a record of its own (seq 0,
                # no mark) so that batches still end on the boundaries of the others.
                seq = 0
                log.warning("journal write failed, %d commands not journalled: %s", added, exc)
            self._records.append((added, seq))
            self._unsynced = True
        if len(buf) >= self.batch_size:
            self._wake.set()

    def start(self) -> asyncio.Task[None]:
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name="store-writer")
        return self._task

    async def run(self) -> None:
        """Flush batches until `close()`; returns once everything accepted is written."""
        self._running = True
        backoff = 0.1
        try:
            while True:
                if not self._buf:
                    if self._closing:
                        return
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self.flush_interval_s):
                            await self._wake.wait()
                    self._wake.clear()
                    continue
                if len(self._buf) < self.batch_size and not self._closing:
                    # Let a small batch fill up for one interval: fewer, larger transactions.
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self.flush_interval_s):
                            await self._wake.wait()
                    self._wake.clear()
                try:
                    await self._sync_journal()
                    await self._flush_taken(len(self._buf))
                    await self._rotate_journal()
                except Exception as exc:  # any driver error: keep the rows, retry later
                    self.healthy = False
                    self.last_error = f"{type(exc).__name__}: {exc}"
                    log.warning(
                        "store write failed, retrying in %.1fs with %d commands buffered: %s",
                        backoff,
                        len(self._buf),
                        self.last_error,
                    )
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(backoff):
                            await self._wake.wait()
                    self._wake.clear()
                    backoff = min(backoff * 2, self.max_backoff_s)
                    continue
                if not self.healthy:
                    log.warning("store writable again, backlog %d", len(self._buf))
                self.healthy = True
                self.last_error = ""
                backoff = 0.1
        finally:
            self._running = False

    async def _flush_taken(self, n: int) -> None:
        """Write the `n` oldest buffered commands (whole batches of them); what arrives
        meanwhile waits for the next interval. Flushing until the buffer was empty kept a
        loaded router in back-to-back small transactions (each new command starting one
        more), 17 round trips to the database thread each: up to 290 thread handoffs,
        each a wake-up of the event loop, in one flush (live_router at 30 calls/s)."""
        while n > 0 and self._buf:
            n -= await self._flush_batch()

    async def flush(self) -> None:
        """Write everything buffered now (one attempt; raises if the database refuses)."""
        while self._buf:
            await self._flush_batch()

    async def close(self, timeout: float | None = None) -> None:
        """Write everything accepted so far, then release the engine.

        With a database that stays down this waits for it (or raises TimeoutError after
        `timeout`, keeping the backlog in memory)."""
        self._closing = True
        self._wake.set()
        if self._task is None and not self._running:
            self._task = asyncio.create_task(self.run(), name="store-writer-close")
        if self._task is not None:
            await asyncio.wait_for(asyncio.shield(self._task), timeout)
        else:
            # run() is driven by someone else's task group; wait for it to drain.
            async def drained() -> None:
                while self._running:
                    await asyncio.sleep(0.01)

            await asyncio.wait_for(drained(), timeout)
        await self._retire_journal()
        if self._owns_engine:
            await self._engine.dispose()

    async def _retire_journal(self) -> None:
        """Everything is committed: this process's journal is no longer needed."""
        j = self.journal
        if j is None or self._buf:
            return
        self.journal = None
        j.close()
        j.path.unlink(missing_ok=True)
        with contextlib.suppress(Exception):
            async with self._engine.begin() as conn:
                await jr.forget(conn, j.name)

    async def _sync_journal(self) -> None:
        if self.journal is not None and self._unsynced:
            self._unsynced = False
            await asyncio.to_thread(self.journal.sync)

    async def _rotate_journal(self) -> None:
        j = self.journal
        if j is None or self._buf or j.bytes < jr.ROTATE_BYTES:
            return
        old = j.rotate()
        old.unlink(missing_ok=True)
        async with self._engine.begin() as conn:
            await jr.forget(conn, old.name)

    async def _flush_batch(self) -> int:
        """One batch from the head of the buffer; the number of commands written."""
        # Each batch is taken from the head of the buffer as it is once its turn comes: two
        # overlapping flushes would otherwise write the same rows and both pop them.
        async with self._writing:
            return await self._write_head() if self._buf else 0

    async def _write_head(self) -> int:
        n = min(self.batch_size, len(self._buf))
        seq, records = 0, 0
        if self._records:
            # A batch ends on a journal record's boundary, so the mark committed with it
            # says exactly which records are in the store.
            covered = 0
            for count, rseq in self._records:
                if covered >= n:
                    break
                covered += count
                seq = rseq or seq
                records += 1
            n = covered
        batch = [self._buf[i] for i in range(n)]
        async with self._engine.begin() as conn:
            if self._open_agents is None:
                self._open_agents = await self._load_open_agents(conn)
            # This batch's changes go to an overlay, kept only once committed: a failed batch
            # is retried whole, with the old state (copying the 20,000 agents' map for each
            # batch instead cost the loop a millisecond a flush).
            changed: dict[str, tuple[str, str]] = {}
            written = await _write(conn, batch, ChainMap(changed, self._open_agents))
            if seq and self.journal is not None:
                await jr.mark(conn, self.journal.name, seq)
        for _ in range(n):
            self._buf.popleft()
        for _ in range(records):
            self._records.popleft()
        self._open_agents.update(changed)
        self.transactions += 1
        self.rows_written += written
        return n

    async def replay(self, directory: Path) -> int:
        """Write what dead processes' journals in `directory` hold and their marks say was
        never committed; then remove those journals. Call before `run()`. Returns the
        number of commands written."""
        written = 0
        for path, fd in jr.orphans(directory):
            try:
                async with self._engine.begin() as conn:
                    done = await jr.committed_seq(conn, path.name)
                    open_agents = await self._load_open_agents(conn)
                    items: list[_Item] = []
                    last = done
                    for seq, record in jr.read_records(path):
                        if seq > done:
                            items.extend(record)
                            last = seq
                    for i in range(0, len(items), self.batch_size):
                        await _write(conn, items[i : i + self.batch_size], open_agents)
                    if last > done:
                        await jr.mark(conn, path.name, last)
                if items:
                    log.warning("replayed %d commands from %s (its process died)", len(items), path)
                written += len(items)
                path.unlink(missing_ok=True)
                async with self._engine.begin() as conn:
                    await jr.forget(conn, path.name)
            finally:
                os.close(fd)
        self._open_agents = None
        self.replayed += written
        return written

    async def _load_open_agents(self, conn: AsyncConnection) -> dict[str, tuple[str, str]]:
        rows = await conn.execute(
            select(agent_states.c.agent_id, agent_states.c.state, agent_states.c.reason)
            .where(agent_states.c.ended_at.is_(None))
            .order_by(agent_states.c.started_at)
        )
        return {r[0]: (r[1], r[2]) for r in rows}


async def _write(
    conn: AsyncConnection, batch: Sequence[_Item], open_agents: MutableMapping[str, tuple[str, str]]
) -> int:
    finished: list[dict[str, Any]] = []
    offers: list[dict[str, Any]] = []
    changes: list[AgentStateChanged] = []
    for c, now in batch:
        if isinstance(c, InteractionFinished):
            finished.append(_interaction_row(c))
        elif isinstance(c, Offer):
            offers.append(_decision_row(c, now))
        else:
            changes.append(c)
    if finished:
        await conn.execute(interactions.insert(), finished)
    if offers:
        await conn.execute(decisions.insert(), offers)
    written = len(finished) + len(offers)
    if changes:
        written += await _write_states(conn, changes, open_agents)
    return written


async def _write_states(
    conn: AsyncConnection,
    changes: Sequence[AgentStateChanged],
    open_agents: MutableMapping[str, tuple[str, str]],
) -> int:
    """Each change closes the agent's open interval and opens a new one.

    A restored state (a restarted router read back where the agent was) equal to the
    agent's open interval is that interval going on: nothing is written, so a restart
    neither cuts every agent's interval in two nor writes 20,000 rows.

    Within a batch the intervals are built in memory, so the database sees one UPDATE per
    agent (closing the interval left open by an earlier batch) and one INSERT for all.
    """
    rows: list[dict[str, Any]] = []
    last_row: dict[str, dict[str, Any]] = {}
    closes: list[dict[str, Any]] = []
    for c in changes:
        prev = last_row.get(c.agent_id)
        if c.restored and prev is None and open_agents.get(c.agent_id) == (c.state, c.reason):
            continue
        at = utc(c.at)
        if prev is not None:
            prev["ended_at"] = at
        elif c.agent_id in open_agents:
            closes.append({"b_agent": c.agent_id, "b_at": at})
        elif c.previous != AgentState.LOGGED_OUT and c.previous_since < c.at:
            # First sight of this agent and it was already doing something: keep that
            # interval too; its reason was never seen, so it is left empty.
            rows.append(
                {
                    "agent_id": c.agent_id,
                    "state": c.previous,
                    "reason": "",
                    "started_at": utc(c.previous_since),
                    "ended_at": at,
                }
            )
        row = {
            "agent_id": c.agent_id,
            "state": c.state,
            "reason": c.reason,
            "started_at": at,
            "ended_at": None,
        }
        rows.append(row)
        last_row[c.agent_id] = row
        open_agents[c.agent_id] = (c.state, c.reason)
    if closes:
        stmt = (
            update(agent_states)
            .where(agent_states.c.agent_id == bindparam("b_agent"), agent_states.c.ended_at.is_(None))
            .values(ended_at=bindparam("b_at"))
        )
        await conn.execute(stmt, closes)
    if rows:
        await conn.execute(agent_states.insert(), rows)
    return len(rows)


def _bench_commands(n: int, t0: float) -> list[InteractionFinished]:
    expl = Explanation(
        trigger=Trigger.ARRIVAL,
        queue="bench",
        strategy="longest_idle",
        step=0,
        requirement="lang.zh >= 3",
        chosen="a1",
        score=(12.5, 1.0),
        candidates=(("a1", (12.5, 1.0)), ("a2", (10.0, 1.0)), ("a3", (3.0, 2.0))),
        excluded=(("a9", "missed recently"),),
        available=3,
    )
    return [
        InteractionFinished(
            interaction_id=f"bench-{i}",
            queue="bench",
            channel=Channel.VOICE,
            caller="张伟",
            outcome=Outcome.ANSWERED,
            agent_id=f"a{i % 50}",
            enqueued_at=t0 + i * 0.01,
            offered_at=t0 + i * 0.01 + 2,
            answered_at=t0 + i * 0.01 + 5,
            ended_at=t0 + i * 0.01 + 95,
            wait_s=5.0,
            talk_s=90.0,
            step=0,
            misses=0,
            disposition="",
            explanation=expl,
        )
        for i in range(n)
    ]


async def bench_store(
    url: str, n: int = 20_000, batch_size: int = 500, journal_dir: Path | None = None
) -> dict[str, Any]:
    """Sustained insert rate of InteractionFinished rows through StoreWriter.

    Creates the schema if needed, writes `n` rows in queue "bench" and deletes them after.
    With `journal_dir` each command is journalled as the service does (one record per
    event, as a routing loop submits them). Returns figures as a JSON-able dict."""
    from cc_router.store.migrations import migrate

    await migrate(url)
    journal = jr.Journal(journal_dir) if journal_dir is not None else None
    writer = StoreWriter(url, batch_size=batch_size, flush_interval_s=0.05, journal=journal)
    cmds = _bench_commands(n, time.time() - 86_400)
    started = time.perf_counter()
    writer.start()
    submit_s = 0.0
    for i in range(0, n, batch_size):
        t = time.perf_counter()
        for c in cmds[i : i + batch_size]:
            # One submit per event, as the service makes them.
            writer.submit((c,), 0.0)
        submit_s += time.perf_counter() - t
        # Yield like a routing loop would, so the writer works while commands keep coming.
        await asyncio.sleep(0)
    engine = open_engine(url)
    await writer.close()
    elapsed = time.perf_counter() - started
    try:
        async with engine.begin() as conn:
            await conn.execute(delete(interactions).where(interactions.c.queue == "bench"))
    finally:
        await engine.dispose()
    return {
        "store": redact_url(url),
        "dialect": make_url(url).get_backend_name(),
        "rows": n,
        "batch_size": batch_size,
        "transactions": writer.transactions,
        "seconds": round(elapsed, 4),
        "rows_per_s": round(n / elapsed, 1) if elapsed > 0 else None,
        "submit_us_per_command": round(submit_s / n * 1e6, 3) if n else None,
        "journal": journal is not None,
    }


__all__ = ["StoreWriter", "bench_store", "explanation_json"]
