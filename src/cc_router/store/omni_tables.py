"""Omnichannel tables: durable tasks (chat, e-mail, SMS, fax) and SMS campaign enrolments.

They share `Base.metadata` with the rest of the store, so one Alembic history covers both.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cc_router.store.tables import Base, Id

UNFINISHED = ("queued", "offered", "connected")
"""Task statuses that must be routed again after a restart."""


class TaskRow(Base):
    """One task accepted by the service; written before the submitter hears "accepted"."""

    __tablename__ = "tasks"

    task_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    queue: Mapped[str] = mapped_column(String(128))
    priority: Mapped[int] = mapped_column(Integer)
    customer: Mapped[str] = mapped_column(String(256))
    source: Mapped[str] = mapped_column(String(16), comment="http, mqtt, sms, fax")
    status: Mapped[str] = mapped_column(String(16), comment="queued, offered, connected, completed, exited")
    agent_id: Mapped[str | None] = mapped_column(String(128))
    disposition: Mapped[str] = mapped_column(String(128))
    payload: Mapped[dict[str, Any]] = mapped_column(comment="the submission as accepted")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_tasks_status", "status"),)


class CampaignEnrolmentRow(Base):
    """A subscriber enrolled in an SMS keyword campaign; at most one row per pair."""

    __tablename__ = "campaign_enrolments"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    campaign: Mapped[str] = mapped_column(String(128))
    subscriber: Mapped[str] = mapped_column(String(128))
    service_number: Mapped[str] = mapped_column(String(64))
    message_id: Mapped[str] = mapped_column(String(128))
    enrolled_at: Mapped[datetime]

    __table_args__ = (
        UniqueConstraint("campaign", "subscriber", name="uq_campaign_enrolments_campaign_subscriber"),
    )


tasks = Base.metadata.tables["tasks"]
campaign_enrolments = Base.metadata.tables["campaign_enrolments"]
