"""Disposition codes given on the desktop: onto the interaction's store row (`wrapup_code`)
and into Asterisk's queue_log as a `CALLSTATUS` record (the verb QueueMetrics-style tools
read call outcomes from).

The interaction's row is written by the store writer in batches, possibly after the code
arrives, so the update is retried until the row is there.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import structlog
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from cc_router.adapters.ami.actions import Action
from cc_router.config.models import AsteriskNode
from cc_router.service import Service
from cc_router.store.tables import InteractionRow

log = structlog.get_logger("cc_router.desk")


class QueueLogNode(Protocol):
    """An Asterisk node that can be asked to write a queue_log line (adapters/ami)."""

    @property
    def spec(self) -> AsteriskNode: ...
    def enqueue(self, action: Action) -> object: ...


@dataclass(frozen=True)
class Disposition:
    interaction_id: str
    agent_id: str
    queue: str
    code: str
    at: float


class DispositionWriter:
    name = "dispositions"

    def __init__(
        self,
        service: Service,
        engine: AsyncEngine | None,
        retry_s: float = 0.25,
        tries: int = 80,
        *,
        nodes: Sequence[QueueLogNode] = (),
    ) -> None:
        self.service = service
        self.nodes = list(nodes)
        self.engine = engine
        self.retry_s = retry_s
        self.tries = tries
        self.queue: asyncio.Queue[Disposition] = asyncio.Queue(maxsize=100_000)
        self.written = 0

    def record(self, d: Disposition) -> None:
        self._queue_log(d)
        with contextlib.suppress(asyncio.QueueFull):
            self.queue.put_nowait(d)

    def _queue_log(self, d: Disposition) -> None:
        from cc_router.adapters.ami import actions

        for node in self.nodes:
            if node.spec.queue_log:
                node.enqueue(
                    actions.queue_log(
                        {
                            "Queue": d.queue,
                            "Event": "CALLSTATUS",
                            "Uniqueid": d.interaction_id,
                            "Interface": d.agent_id,
                            "Message": d.code,
                        }
                    )
                )
                break

    async def run(self) -> None:
        while True:
            d = await self.queue.get()
            if self.engine is None:
                continue
            for _ in range(self.tries):
                async with self.engine.begin() as conn:
                    done = await conn.execute(
                        update(InteractionRow)
                        .where(
                            InteractionRow.interaction_id == d.interaction_id,
                            InteractionRow.agent_id == d.agent_id,
                            InteractionRow.queue == d.queue,
                        )
                        .values(wrapup_code=d.code)
                    )
                if done.rowcount:
                    self.written += 1
                    break
                await asyncio.sleep(self.retry_s)
            else:
                log.warning("disposition_not_stored", interaction_id=d.interaction_id, agent_id=d.agent_id)
