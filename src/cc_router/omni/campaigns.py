"""SMS keyword campaigns and inbound text messages.

A message to a service number is first checked against the campaigns (pure matching in
`campaign_match`); a keyword enrols the subscriber once (the unique constraint on
campaign + subscriber decides, so concurrent duplicates cannot enrol twice) and gets a
reply; anything else becomes an ordinary SMS task.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import structlog
from sqlalchemy import insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from cc_router.config import Config
from cc_router.core.spec import Channel
from cc_router.omni.campaign_match import MatchKind, match_campaign, subscriber_of
from cc_router.omni.intake import TaskIntake
from cc_router.omni.tasks import TaskSubmission
from cc_router.store.omni_tables import campaign_enrolments

log = structlog.get_logger("cc_router.omni.campaigns")


@dataclass(frozen=True, slots=True)
class InboundMessage:
    sender: str
    """SIP From as Asterisk gives it, e.g. `<sip:13800138000@127.0.0.1:5070>`."""
    to: str
    number: str
    """The service number the subscriber texted (Request-URI user)."""
    body: str
    message_id: str
    node: str = ""
    received_at: datetime = field(default_factory=lambda: datetime.now(UTC))


class Outcome(StrEnum):
    ENROLLED = "enrolled"
    REPEAT = "repeat"
    OUTSIDE = "outside"
    TASK = "task"
    DROPPED = "dropped"


@dataclass(frozen=True, slots=True)
class MessageResult:
    outcome: Outcome
    campaign: str = ""
    task_id: str = ""
    reply: str | None = None


Reply = Callable[[InboundMessage, str], Awaitable[None]]
Thread = Callable[[TaskSubmission, str, dict[str, str]], Awaitable[str]]
"""(the SMS task, the SIP From, its attributes) -> the task id serving it (conversations)."""


async def enrol(
    engine: AsyncEngine, campaign: str, subscriber: str, service_number: str, message_id: str, at: datetime
) -> bool:
    """True if this call enrolled the subscriber, False if they were enrolled already."""
    values = {
        "campaign": campaign,
        "subscriber": subscriber,
        "service_number": service_number,
        "message_id": message_id,
        "enrolled_at": at,
    }
    table = campaign_enrolments
    dialect = engine.dialect.name
    stmt: Any
    if dialect == "postgresql":
        stmt = (
            postgresql.insert(table)
            .values(values)
            .on_conflict_do_nothing(index_elements=["campaign", "subscriber"])
        )
    elif dialect == "sqlite":
        stmt = (
            sqlite.insert(table)
            .values(values)
            .on_conflict_do_nothing(index_elements=["campaign", "subscriber"])
        )
    else:
        stmt = insert(table).values(values)
    try:
        async with engine.begin() as conn:
            row = (await conn.execute(stmt.returning(table.c.id))).first()
    except IntegrityError:
        return False
    return row is not None


async def enrolments(engine: AsyncEngine, campaign: str) -> list[dict[str, Any]]:
    t = campaign_enrolments
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(t.c.subscriber, t.c.enrolled_at, t.c.message_id, t.c.service_number)
            .where(t.c.campaign == campaign)
            .order_by(t.c.enrolled_at, t.c.id)
        )
        return [dict(r._mapping) for r in rows]


class MessageRouter:
    """Campaign check first, else an SMS task."""

    def __init__(
        self, config: Config, engine: AsyncEngine, intake: TaskIntake, reply: Reply | None = None
    ) -> None:
        self.config = config
        self.engine = engine
        self.intake = intake
        self.reply = reply
        self.thread: Thread | None = None
        """Set by the conversations feature: an SMS then joins the subscriber's open thread."""

    def sms_queue(self, number: str) -> str | None:
        """The queue for texts to `number`: numbers[number] if it is an SMS queue, else the first."""
        route = self.config.numbers.get(number)
        queues = {q.name: q for q in self.config.queues}
        if route is not None and route.queue in queues and queues[route.queue].channel is Channel.SMS:
            return route.queue
        return next((q.name for q in self.config.queues if q.channel is Channel.SMS), None)

    async def handle(self, msg: InboundMessage) -> MessageResult:
        tz = self.config.centre.tz
        subscriber = subscriber_of(msg.sender)
        match = match_campaign(self.config.campaigns, msg.number, msg.body, msg.received_at, tz)
        if match is not None:
            camp = match.campaign
            if match.kind is MatchKind.ENROL:
                new = await enrol(
                    self.engine, camp.name, subscriber, msg.number, msg.message_id, msg.received_at
                )
                result = MessageResult(
                    Outcome.ENROLLED if new else Outcome.REPEAT,
                    camp.name,
                    reply=camp.reply_enrolled if new else camp.reply_repeat,
                )
            else:
                result = MessageResult(Outcome.OUTSIDE, camp.name, reply=camp.reply_outside)
            log.info(
                "campaign_message",
                campaign=camp.name,
                outcome=str(result.outcome),
                subscriber=subscriber,
                message_id=msg.message_id,
            )
            if result.reply and self.reply is not None:
                try:
                    await self.reply(msg, result.reply)
                except Exception as exc:
                    # The enrolment stands; a lost confirmation text is logged, not retried forever.
                    log.warning(
                        "campaign_reply_failed", campaign=camp.name, subscriber=subscriber, error=str(exc)
                    )
            return result
        queue = self.sms_queue(msg.number)
        if queue is None:
            log.error("sms_dropped_no_queue", number=msg.number, message_id=msg.message_id)
            return MessageResult(Outcome.DROPPED)
        route = self.config.numbers.get(msg.number)
        attributes = dict(route.attributes) if route is not None else {}
        attributes.update(
            {"from": msg.sender, "to": msg.to, "number": msg.number, "message_id": msg.message_id}
        )
        if msg.node:
            attributes["node"] = msg.node
        sub = TaskSubmission(
            task_id=task_id_for("sms", msg.node, msg.message_id),
            channel=Channel.SMS,
            queue=queue,
            priority=route.priority if route is not None else 0,
            customer=subscriber,
            body=msg.body,
            attributes=attributes,
        )
        if self.thread is not None:
            return MessageResult(Outcome.TASK, task_id=await self.thread(sub, msg.sender, attributes))
        task, _ = await self.intake.submit(sub, "sms")
        return MessageResult(Outcome.TASK, task_id=task.task_id)


def task_id_for(kind: str, node: str, ref: str) -> str:
    """A task id made from the Asterisk event, so the same event never makes two tasks."""
    raw = "-".join(p for p in (kind, node, ref) if p)
    return "".join(c if c.isalnum() or c in "_.-" else "_" for c in raw)[:128]
