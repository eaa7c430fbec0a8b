"""Task intake and agent actions on tasks.

Order matters for "nothing accepted is lost": a task is committed to the `tasks` table,
then routed, then acknowledged. Agent actions are core events; the core's refusal comes
back as an EventRejected command and becomes a TaskError (HTTP 409).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy.exc import SQLAlchemyError

from cc_router.core import commands as cmd
from cc_router.core import events as ev
from cc_router.core.spec import Channel
from cc_router.core.vocabulary import DeclineReason, Stage
from cc_router.omni.task_store import StoredTask, TaskStore
from cc_router.omni.tasks import TASK_CHANNELS, TaskError, TaskSubmission
from cc_router.omni.tracker import ActiveTask, TaskTracker
from cc_router.service import Service

log = structlog.get_logger("cc_router.omni.intake")

_SUMMARY_BODY_MAX = 4000
"""An offer carries the start of the body; the desktop fetches the task for the rest."""


def _summary(task: StoredTask) -> dict[str, Any]:
    body = str(task.payload.get("body", ""))
    return {
        "customer": task.customer,
        "priority": task.priority,
        "subject": task.payload.get("subject", ""),
        "body": body[:_SUMMARY_BODY_MAX],
        "body_truncated": len(body) > _SUMMARY_BODY_MAX,
        "attributes": task.payload.get("attributes", {}),
        "source": task.source,
    }


class TaskIntake:
    def __init__(
        self, service: Service, store: TaskStore, tracker: TaskTracker, ready_timeout_s: float = 10.0
    ) -> None:
        self.service = service
        self.store = store
        self.tracker = tracker
        self.ready = asyncio.Event()
        """Set once the schema is migrated and unfinished tasks are routed again."""
        self.ready_timeout_s = ready_timeout_s

    # ------------------------------------------------------------ submissions

    def check(self, sub: TaskSubmission) -> None:
        if sub.channel not in TASK_CHANNELS:
            raise TaskError(422, f"channel {sub.channel} is not a task channel (use chat, email, sms, fax)")
        q = self.service.router.queues.get(sub.queue)
        if q is None:
            raise TaskError(422, f"unknown queue {sub.queue!r}")
        if q.spec.channel is not sub.channel:
            raise TaskError(422, f"queue {sub.queue} takes {q.spec.channel}, not {sub.channel}")

    async def submit(self, sub: TaskSubmission, source: str) -> tuple[StoredTask, bool]:
        """Store, route and return the task; `created` is False for an identical retry."""
        sub = sub.with_id()
        assert sub.task_id is not None
        self.check(sub)
        await self._wait_ready()
        payload = sub.model_dump(mode="json", exclude_none=True)  # absent hints: same payload as before
        try:
            created = await self.store.insert(
                sub.task_id, str(sub.channel), sub.queue, sub.priority, sub.customer, source, payload
            )
            if not created:
                existing = await self.store.get(sub.task_id)
        except (SQLAlchemyError, OSError) as exc:
            log.warning("task_store_unavailable", task_id=sub.task_id, error=str(exc))
            raise TaskError(503, "the task store is unavailable; retry later") from None
        if not created:
            if existing is None or existing.payload != payload:
                raise TaskError(409, f"task {sub.task_id} exists with a different content")
            return existing, False
        task = StoredTask(
            task_id=sub.task_id,
            channel=str(sub.channel),
            queue=sub.queue,
            priority=sub.priority,
            customer=sub.customer,
            source=source,
            status="queued",
            agent_id=None,
            disposition="",
            payload=payload,
            created_at=datetime.now(UTC),
        )
        self._route(task)
        log.info("task_accepted", task_id=task.task_id, channel=task.channel, queue=task.queue, source=source)
        return task, True

    async def _wait_ready(self) -> None:
        if self.ready.is_set():
            return
        try:
            await asyncio.wait_for(self.ready.wait(), self.ready_timeout_s)
        except TimeoutError:
            raise TaskError(503, "task intake is starting; retry later") from None

    def _route(self, task: StoredTask) -> None:
        self.tracker.track(ActiveTask(task.task_id, task.channel, task.queue, _summary(task)))
        attrs = {str(k): str(v) for k, v in dict(task.payload.get("attributes", {})).items()}
        # A task resumed after a restart keeps its place and its wait: it arrived back then.
        since = task.created_at.timestamp()
        prefer = task.payload.get("prefer_agent")
        wait = task.payload.get("prefer_wait_s")
        self.service.submit(
            ev.InteractionArrived(
                task.task_id,
                task.queue,
                task.priority,
                task.customer,
                attrs,
                since=since,
                agent_id=str(prefer) if prefer else None,
                agent_wait_s=float(wait) if wait is not None else None,
            )
        )

    async def resume(self) -> int:
        """Route again every task accepted before a restart and not finished."""
        n = 0
        for task in await self.store.unfinished():
            if task.task_id in self.service.router.interactions or task.task_id in self.tracker.active:
                continue
            self._route(task)
            n += 1
        if n:
            log.info("tasks_resumed", count=n)
        return n

    # ------------------------------------------------------------ agent actions

    def _active(self, task_id: str) -> Any:
        it = self.service.router.interactions.get(task_id)
        if it is None or task_id not in self.tracker.active:
            raise TaskError(404, f"no active task {task_id!r}")
        return it

    def _send(self, event: ev.Event) -> None:
        out = self.service.submit(event)
        rejected = cmd.rejection(out, event)
        if rejected is not None:
            raise TaskError(409, rejected.reason)

    def accept(self, task_id: str, agent_id: str) -> None:
        it = self._active(task_id)
        if it.offer is None or it.offer.agent_id != agent_id:
            raise TaskError(409, f"task {task_id} is not offered to agent {agent_id}")
        self._send(ev.OfferAccepted(task_id, agent_id))
        log.info("task_offer_accepted", task_id=task_id, agent_id=agent_id)

    def reject(self, task_id: str, agent_id: str) -> None:
        it = self._active(task_id)
        if it.offer is None or it.offer.agent_id != agent_id:
            raise TaskError(409, f"task {task_id} is not offered to agent {agent_id}")
        self._send(ev.OfferDeclined(task_id, agent_id, reason=DeclineReason.REJECTED))
        log.info("task_offer_rejected", task_id=task_id, agent_id=agent_id)

    def complete(self, task_id: str, agent_id: str, disposition: str) -> None:
        it = self._active(task_id)
        if it.stage is not Stage.CONNECTED or it.agent_id != agent_id:
            raise TaskError(409, f"task {task_id} is not being handled by agent {agent_id}")
        # A queue with wrap-up codes takes only those (as on the desktop); refused before
        # the core hears of it, so the task stays as it was. Without codes: free text.
        code = disposition.strip()
        codes = self.service.config.dispositions.get(it.queue.name)
        refused = codes.refusal(code, it.queue.name) if codes is not None else None
        if refused is not None:
            raise TaskError(422, refused)
        self._send(ev.InteractionEnded(task_id, code))

    def transfer(
        self, task_id: str, queue: str, agent_id: str | None = None, to_agent: str | None = None
    ) -> None:
        it = self._active(task_id)
        if it.stage is not Stage.CONNECTED:
            raise TaskError(409, f"task {task_id} is not being handled by an agent")
        if agent_id is not None and it.agent_id != agent_id:
            raise TaskError(409, f"task {task_id} is not being handled by agent {agent_id}")
        dest = self.service.router.queues.get(queue)
        if dest is None:
            raise TaskError(422, f"unknown queue {queue!r}")
        channel: Channel = it.queue.spec.channel
        if dest.spec.channel is not channel:
            # The core would take it; a chat in an e-mail queue would count against e-mail capacity.
            raise TaskError(422, f"queue {queue} takes {dest.spec.channel}, not {channel}")
        if to_agent is not None and to_agent not in self.service.router.agents:
            raise TaskError(422, f"unknown agent {to_agent!r}")
        self._send(ev.InteractionTransferred(task_id, queue, agent_id=to_agent))
        log.info("task_transferred", task_id=task_id, queue=queue, agent_id=it.agent_id, to_agent=to_agent)
