"""Accounts: users with roles and login sessions (token hashes with expiry); the agent's
disposition code on each interaction row.

Revision ID: 0003_accounts
Revises: 0003_sessions
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# As in 0002: importing the model puts its tables in the metadata Alembic compares with.
import cc_router.accounts.tables  # noqa: F401

revision: str = "0003_accounts"
down_revision: str | None = "0003_sessions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("role", sa.String(16), nullable=False, comment="agent, supervisor, admin, viewer"),
        sa.Column("agent_id", sa.String(128), nullable=True, comment="the agent an `agent` user acts as"),
        sa.Column(
            "scope", JSON, nullable=False, comment='supervisor limits: {"queues": [...], "pools": [...]}'
        ),
        sa.Column("password_hash", sa.String(256), nullable=False, comment="argon2id, PHC string"),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_index("ix_users_agent_id", "users", ["agent_id"])
    op.create_table(
        "sessions",
        sa.Column("token_hash", sa.String(64), primary_key=True, comment="sha256 of the token, hex"),
        sa.Column("user_name", sa.String(128), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("revoked_at", TS, nullable=True),
    )
    op.create_index("ix_sessions_user_name", "sessions", ["user_name"])
    op.add_column(
        "interactions",
        sa.Column(
            "wrapup_code",
            sa.String(64),
            nullable=True,
            comment="disposition code the agent gave (desktop), null: none given",
        ),
    )

    op.add_column(
        "queue_intervals",
        sa.Column(
            "dispositions", JSON, nullable=True, comment="{code: interactions} of the codes agents gave"
        ),
    )


def downgrade() -> None:
    with op.batch_alter_table("queue_intervals") as batch:
        batch.drop_column("dispositions")
    with op.batch_alter_table("interactions") as batch:
        batch.drop_column("wrapup_code")
    op.drop_index("ix_sessions_user_name", table_name="sessions")
    op.drop_table("sessions")
    op.drop_index("ix_users_agent_id", table_name="users")
    op.drop_table("users")
