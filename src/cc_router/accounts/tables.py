"""Account tables: users (role, agent, scope, password hash) and login sessions.

They share `Base.metadata` with the rest of the store, so one Alembic history covers them.
A session row keeps only a hash of its token: a copy of the table does not log anyone in.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from cc_router.store.tables import Base


class UserRow(Base):
    __tablename__ = "users"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    role: Mapped[str] = mapped_column(String(16), comment="agent, supervisor, admin, viewer")
    agent_id: Mapped[str | None] = mapped_column(String(128), comment="the agent an `agent` user acts as")
    scope: Mapped[dict[str, Any]] = mapped_column(
        comment='supervisor limits: {"queues": [...], "pools": [...]}'
    )
    password_hash: Mapped[str] = mapped_column(String(256), comment="argon2id, PHC string")
    disabled: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    __table_args__ = (Index("ix_users_agent_id", "agent_id"),)


class SessionRow(Base):
    __tablename__ = "sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True, comment="sha256 of the token, hex")
    user_name: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_sessions_user_name", "user_name"),)
