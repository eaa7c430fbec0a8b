"""Follows the core's commands for tasks: status rows (batched) and desktop offers.

`TaskTracker.sink` is a service sink: it runs inside the routing loop and only touches
memory (the TaskStore batches SQL for its own task).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog

from cc_router.core import commands as cmd
from cc_router.core import events as ev
from cc_router.core.vocabulary import CONTINUING_OUTCOMES, Outcome, RejectCode
from cc_router.omni.offers import DesktopOffer, OfferBoard
from cc_router.omni.task_store import TaskStore

log = structlog.get_logger("cc_router.omni.tracker")


@dataclass(slots=True)
class ActiveTask:
    task_id: str
    channel: str
    queue: str
    summary: Mapping[str, Any] = field(default_factory=dict)
    """What a desktop shows in an offer (customer, subject, body, attributes...)."""


class TaskTracker:
    def __init__(self, store: TaskStore, board: OfferBoard) -> None:
        self.store = store
        self.board = board
        self.active: dict[str, ActiveTask] = {}

    def track(self, task: ActiveTask) -> None:
        self.active[task.task_id] = task

    def sink(self, commands: Sequence[cmd.Command], now: float) -> None:
        for c in commands:
            if isinstance(c, cmd.EventRejected):
                self._rejected(c, now)
                continue
            task = self.active.get(getattr(c, "interaction_id", ""))
            if task is None:
                continue
            if isinstance(c, cmd.Offer):
                self.board.close_task(task.task_id, "superseded")
                self.store.update(task.task_id, now, status="offered", agent_id=c.agent_id, queue=c.queue)
                self.board.add(
                    DesktopOffer(
                        c.offer_id,
                        task.task_id,
                        c.agent_id,
                        str(c.channel),
                        c.queue,
                        c.timeout_s,
                        now,
                        task.summary,
                    )
                )
            elif isinstance(c, cmd.CancelOffer):
                self.board.close(c.offer_id, c.reason)
            elif isinstance(c, cmd.InteractionQueued):
                # A declined offer comes back without a CancelOffer: waiting means no offer.
                self.board.close_task(task.task_id, "returned")
                task.queue = c.queue
                self.store.update(task.task_id, now, status="queued", agent_id=None, queue=c.queue)
            elif isinstance(c, cmd.InteractionConnected):
                self.board.close_task(task.task_id, "accepted")
                self.store.update(task.task_id, now, status="connected", agent_id=c.agent_id)
            elif isinstance(c, cmd.InteractionFinished) and c.outcome not in CONTINUING_OUTCOMES:
                self.board.close_task(task.task_id, c.outcome)
                status = "completed" if c.outcome == Outcome.ANSWERED else "exited"
                self.store.update(
                    task.task_id,
                    now,
                    status=status,
                    disposition=c.disposition or c.outcome,
                    agent_id=c.agent_id,
                    finished_at=datetime.fromtimestamp(now, tz=UTC),
                )
                del self.active[task.task_id]
                log.info(
                    "task_finished",
                    task_id=task.task_id,
                    outcome=c.outcome,
                    agent_id=c.agent_id,
                    disposition=c.disposition,
                )

    def _rejected(self, c: cmd.EventRejected, now: float) -> None:
        e = c.event
        if not isinstance(e, ev.InteractionArrived) or e.interaction_id not in self.active:
            return
        if c.code == RejectCode.ALREADY_KNOWN:
            return
        # E.g. the queue went away in a config reload between validation and routing.
        self.active.pop(e.interaction_id)
        self.store.update(
            e.interaction_id,
            now,
            status="exited",
            disposition=f"rejected: {c.reason}"[:128],
            finished_at=datetime.fromtimestamp(now, tz=UTC),
        )
        log.warning("task_rejected_by_router", task_id=e.interaction_id, reason=c.reason)
