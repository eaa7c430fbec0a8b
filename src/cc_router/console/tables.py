"""The audit table: every supervisor action that changed something, who did it, when, and
what the target looked like before and after.

It shares `Base.metadata` with the rest of the store, so one Alembic history covers it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from cc_router.store.tables import Base, Id


class AuditRow(Base):
    __tablename__ = "audit"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    at: Mapped[datetime]
    user_name: Mapped[str] = mapped_column(String(128), comment="the login, or (http.token)")
    role: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(32), comment="pause, unpause, logout, skills, move, ...")
    target_kind: Mapped[str] = mapped_column(String(16), comment="agent, interaction, queue, config")
    target: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str | None] = mapped_column(String(256))
    before: Mapped[dict[str, Any] | None]
    after: Mapped[dict[str, Any] | None]
    client: Mapped[str] = mapped_column(String(64), comment="the address the request came from")

    __table_args__ = (
        Index("ix_audit_at", "at"),
        Index("ix_audit_target", "target_kind", "target"),
    )
