"""Durable agent sessions, live queue changes, writer journal marks, router leadership.

Revision ID: 0003_sessions
Revises: 0003_callbacks
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# Puts these tables in Base.metadata whenever migrations are loaded (see 0002_omni.py).
import cc_router.store.session_tables  # noqa: F401

revision: str = "0003_sessions"
down_revision: str | None = "0003_callbacks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "agent_sessions",
        sa.Column("agent_id", sa.String(128), primary_key=True),
        sa.Column("presence", sa.String(16), nullable=False, comment="logged_out, ready, paused"),
        sa.Column("reason", sa.String(128), nullable=False, comment="pause reason"),
        sa.Column(
            "since", TS, nullable=False, comment="when the agent entered this presence (ready: idle since)"
        ),
        sa.Column("pause_max_s", sa.Float(), nullable=True),
        sa.Column("skills", JSON, nullable=True, comment="skills set live; NULL: the config's"),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_table(
        "queue_overrides",
        sa.Column("queue", sa.String(128), primary_key=True),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column(
            "steps", JSON, nullable=False, comment='{"steps": [[after_s, requirement, priority_boost]]}'
        ),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_table(
        "journal_marks",
        sa.Column("journal", sa.String(256), primary_key=True),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_table(
        "router_leader",
        sa.Column("lock_key", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("address", sa.String(256), nullable=False, comment="the leader's advertised HTTP address"),
        sa.Column("host", sa.String(256), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("since", TS, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("router_leader")
    op.drop_table("journal_marks")
    op.drop_table("queue_overrides")
    op.drop_table("agent_sessions")
