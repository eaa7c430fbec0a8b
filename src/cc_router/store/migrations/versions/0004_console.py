"""Supervisor console: the audit table of supervisor actions; a call's recording (path,
length, size) on its interaction row.

Revision ID: 0004_console
Revises: 0003_conversations
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# Puts the audit table in `Base.metadata` whenever migrations are loaded (see 0002).
import cc_router.console.tables  # noqa: F401

revision: str = "0004_console"
down_revision: str | None = "0003_conversations"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "audit",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("at", TS, nullable=False),
        sa.Column("user_name", sa.String(128), nullable=False, comment="the login, or (http.token)"),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column(
            "action", sa.String(32), nullable=False, comment="pause, unpause, logout, skills, move, ..."
        ),
        sa.Column("target_kind", sa.String(16), nullable=False, comment="agent, interaction, queue, config"),
        sa.Column("target", sa.String(128), nullable=False),
        sa.Column("reason", sa.String(256), nullable=True),
        sa.Column("before", JSON, nullable=True),
        sa.Column("after", JSON, nullable=True),
        sa.Column("client", sa.String(64), nullable=False, comment="the address the request came from"),
    )
    op.create_index("ix_audit_at", "audit", ["at"])
    op.create_index("ix_audit_target", "audit", ["target_kind", "target"])
    with op.batch_alter_table("interactions") as batch:
        batch.add_column(
            sa.Column(
                "recording_path",
                sa.String(512),
                nullable=True,
                comment="the call's recording as the router reads it, null: not recorded",
            )
        )
        batch.add_column(
            sa.Column("recording_s", sa.Float(), nullable=True, comment="length of the recording, seconds")
        )
        batch.add_column(
            sa.Column("recording_bytes", sa.BigInteger(), nullable=True, comment="size of the recording file")
        )


def downgrade() -> None:
    with op.batch_alter_table("interactions") as batch:
        batch.drop_column("recording_bytes")
        batch.drop_column("recording_s")
        batch.drop_column("recording_path")
    op.drop_index("ix_audit_target", table_name="audit")
    op.drop_index("ix_audit_at", table_name="audit")
    op.drop_table("audit")
