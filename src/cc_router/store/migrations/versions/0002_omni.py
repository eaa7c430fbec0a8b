"""Omnichannel: durable tasks and SMS campaign enrolments.

Revision ID: 0002
Revises: 0001
Create Date: 2025-01-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# env.py hands Alembic `Base.metadata` from store/tables.py only; importing the omni model
# here puts its tables in that metadata too, so comparing the schema with the model (and
# autogenerate) sees every table whenever migrations are loaded. The DDL below stays frozen.
import cc_router.store.omni_tables  # noqa: F401

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "tasks",
        sa.Column("task_id", sa.String(128), primary_key=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("queue", sa.String(128), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("customer", sa.String(256), nullable=False),
        sa.Column("source", sa.String(16), nullable=False, comment="http, mqtt, sms, fax"),
        sa.Column(
            "status", sa.String(16), nullable=False, comment="queued, offered, connected, completed, exited"
        ),
        sa.Column("agent_id", sa.String(128), nullable=True),
        sa.Column("disposition", sa.String(128), nullable=False),
        sa.Column("payload", JSON, nullable=False, comment="the submission as accepted"),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("finished_at", TS, nullable=True),
    )
    op.create_index("ix_tasks_status", "tasks", ["status"])

    op.create_table(
        "campaign_enrolments",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("campaign", sa.String(128), nullable=False),
        sa.Column("subscriber", sa.String(128), nullable=False),
        sa.Column("service_number", sa.String(64), nullable=False),
        sa.Column("message_id", sa.String(128), nullable=False),
        sa.Column("enrolled_at", TS, nullable=False),
        sa.UniqueConstraint("campaign", "subscriber", name="uq_campaign_enrolments_campaign_subscriber"),
    )


def downgrade() -> None:
    op.drop_table("campaign_enrolments")
    op.drop_index("ix_tasks_status", table_name="tasks")
    op.drop_table("tasks")
