"""Callbacks that keep the caller's place, and their attempts.

Revision ID: 0003_callbacks
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# As in 0002: importing the model puts its tables in the metadata Alembic compares with.
# The DDL below stays frozen.
import cc_router.store.callback_tables  # noqa: F401

revision: str = "0003_callbacks"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "callbacks",
        sa.Column("callback_id", sa.String(128), primary_key=True),
        sa.Column("interaction_id", sa.String(128), nullable=False, comment="the call that asked for it"),
        sa.Column("queue", sa.String(128), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("since", TS, nullable=False, comment="the caller's arrival: its seniority in the queue"),
        sa.Column("number", sa.String(64), nullable=False, comment="the number to call back"),
        sa.Column("caller_name", sa.String(256), nullable=False),
        sa.Column("node", sa.String(128), nullable=False, comment="Asterisk node the caller came in on"),
        sa.Column(
            "status", sa.String(16), nullable=False, comment="waiting, dialling, connected, failed, cancelled"
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", TS, nullable=True),
        sa.Column("requested_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_index("ix_callbacks_status", "callbacks", ["status"])
    op.create_table(
        "callback_attempts",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("callback_id", sa.String(128), sa.ForeignKey("callbacks.callback_id"), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.String(128), nullable=True),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("ended_at", TS, nullable=True),
        sa.Column(
            "result",
            sa.String(32),
            nullable=True,
            comment="answered, no_answer, busy, failed, agent_missed, outside_window",
        ),
    )
    op.create_index("ix_callback_attempts_callback_id", "callback_attempts", ["callback_id"])


def downgrade() -> None:
    op.drop_index("ix_callback_attempts_callback_id", table_name="callback_attempts")
    op.drop_table("callback_attempts")
    op.drop_index("ix_callbacks_status", table_name="callbacks")
    op.drop_table("callbacks")
