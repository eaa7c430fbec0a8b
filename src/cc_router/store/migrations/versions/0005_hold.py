"""Hold time on the interaction row: the seconds the agent held the caller.

Revision ID: 0005_hold
Revises: 0004_console
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_hold"
down_revision: str | None = "0004_console"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable: rows written before hold was recorded have an unknown hold, not none.
    with op.batch_alter_table("interactions") as batch:
        batch.add_column(
            sa.Column(
                "hold_s",
                sa.Float(),
                nullable=True,
                comment="of talk_s, seconds the agent held the caller; null: not recorded",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("interactions") as batch:
        batch.drop_column("hold_s")
