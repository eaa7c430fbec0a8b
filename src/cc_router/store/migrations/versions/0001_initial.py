"""Initial store: interactions, agent states, decisions and 15-minute interval rows.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the model's types: a migration must not change when tables.py does.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TS = sa.DateTime(timezone=True)
SL_PCT_COMMENT = (
    "100 * answered_within_sl / (answered + abandoned_after_sl); NULL when the divisor is 0. "
    "Abandons within the threshold count neither for nor against; exits are not counted."
)


def upgrade() -> None:
    op.create_table(
        "interactions",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("interaction_id", sa.String(128), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("queue", sa.String(128), nullable=False),
        sa.Column("caller", sa.String(256), nullable=False),
        sa.Column("agent_id", sa.String(128), nullable=True),
        sa.Column("enqueued_at", TS, nullable=False),
        sa.Column("offered_at", TS, nullable=True),
        sa.Column("answered_at", TS, nullable=True),
        sa.Column("ended_at", TS, nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("wait_s", sa.Float(), nullable=False),
        sa.Column("talk_s", sa.Float(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("misses", sa.Integer(), nullable=False),
        sa.Column("disposition", sa.String(128), nullable=False),
        sa.Column("explanation", JSON, nullable=True),
    )
    op.create_index("ix_interactions_interaction_id", "interactions", ["interaction_id"])
    op.create_index("ix_interactions_agent_id", "interactions", ["agent_id"])
    op.create_index("ix_interactions_queue_enqueued_at", "interactions", ["queue", "enqueued_at"])

    op.create_table(
        "agent_states",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("agent_id", sa.String(128), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(128), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("ended_at", TS, nullable=True),
    )
    op.create_index("ix_agent_states_agent_id_started_at", "agent_states", ["agent_id", "started_at"])
    op.create_index("ix_agent_states_started_at", "agent_states", ["started_at"])

    op.create_table(
        "decisions",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("offer_id", sa.String(128), nullable=False),
        sa.Column("interaction_id", sa.String(128), nullable=False),
        sa.Column("agent_id", sa.String(128), nullable=False),
        sa.Column("queue", sa.String(128), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("explanation", JSON, nullable=False),
    )
    op.create_index("ix_decisions_offer_id", "decisions", ["offer_id"])
    op.create_index("ix_decisions_interaction_id", "decisions", ["interaction_id"])
    op.create_index("ix_decisions_agent_id", "decisions", ["agent_id"])
    op.create_index("ix_decisions_at", "decisions", ["at"])

    op.create_table(
        "queue_intervals",
        sa.Column("interval_start", TS, primary_key=True),
        sa.Column("queue", sa.String(128), primary_key=True),
        sa.Column("channel", sa.String(16), primary_key=True),
        sa.Column("service_level_s", sa.Float(), nullable=False),
        sa.Column("offered", sa.Integer(), nullable=False),
        sa.Column("answered", sa.Integer(), nullable=False),
        sa.Column("abandoned", sa.Integer(), nullable=False, comment="abandoned + abandoned_ringing"),
        sa.Column("abandoned_after_sl", sa.Integer(), nullable=False),
        sa.Column("overflowed", sa.Integer(), nullable=False),
        sa.Column("timed_out", sa.Integer(), nullable=False),
        sa.Column(
            "other_exits",
            sa.Integer(),
            nullable=False,
            comment="max_length, empty, moved, overflow_loop, queue_removed",
        ),
        sa.Column("answered_within_sl", sa.Integer(), nullable=False),
        sa.Column("sl_pct", sa.Float(), nullable=True, comment=SL_PCT_COMMENT),
        sa.Column("asa_s", sa.Float(), nullable=True, comment="mean wait_s of answered"),
        sa.Column(
            "aht_s",
            sa.Float(),
            nullable=True,
            comment="mean talk_s of answered; wrap-up is per agent, see agent_intervals",
        ),
        sa.Column("max_wait_s", sa.Float(), nullable=True),
    )

    op.create_table(
        "agent_intervals",
        sa.Column("interval_start", TS, primary_key=True),
        sa.Column("agent_id", sa.String(128), primary_key=True),
        sa.Column("logged_in_s", sa.Float(), nullable=False),
        sa.Column("ready_s", sa.Float(), nullable=False),
        sa.Column("reserved_s", sa.Float(), nullable=False),
        sa.Column("busy_s", sa.Float(), nullable=False, comment="talking (or a private call)"),
        sa.Column("wrap_up_s", sa.Float(), nullable=False),
        sa.Column("paused_s", sa.Float(), nullable=False),
        sa.Column("pause_by_reason", JSON, nullable=False, comment="{reason: seconds}"),
    )


def downgrade() -> None:
    op.drop_table("agent_intervals")
    op.drop_table("queue_intervals")
    op.drop_table("decisions")
    op.drop_table("agent_states")
    op.drop_table("interactions")
