"""Conversations: transcripts of chat, e-mail and SMS threads, with attachments.

Revision ID: 0003_conversations
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# Puts the conversation tables in `Base.metadata` whenever migrations are loaded (see 0002).
import cc_router.conversations.tables  # noqa: F401

revision: str = "0003_conversations"
down_revision: str | None = "0003_accounts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "conversations",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("channel", sa.String(16), nullable=False, comment="chat, email, sms"),
        sa.Column("status", sa.String(16), nullable=False, comment="open, closed"),
        sa.Column("queue", sa.String(128), nullable=False),
        sa.Column("customer", sa.String(256), nullable=False, comment="name, e-mail address or phone number"),
        sa.Column("subject", sa.String(1024), nullable=False),
        sa.Column("thread_key", sa.String(256), nullable=False, comment="finds the open thread of a sender"),
        sa.Column("task_id", sa.String(128), nullable=True, comment="the interaction routed now, if any"),
        sa.Column("agent_id", sa.String(128), nullable=True, comment="the agent who last held it"),
        sa.Column("token_hash", sa.String(64), nullable=True, comment="sha256 of the chat customer's token"),
        sa.Column("attributes", JSON, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("closed_at", TS, nullable=True),
    )
    op.create_index("ix_conversations_thread", "conversations", ["channel", "thread_key", "status"])
    op.create_index("ix_conversations_task", "conversations", ["task_id"])
    op.create_index("ix_conversations_token", "conversations", ["token_hash"], unique=True)
    op.create_index("ix_conversations_updated", "conversations", ["updated_at"])

    op.create_table(
        "messages",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column(
            "conversation_id",
            sa.String(64),
            sa.ForeignKey("conversations.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("task_id", sa.String(128), nullable=True),
        sa.Column("direction", sa.String(8), nullable=False, comment="in (from the customer), out (to them)"),
        sa.Column("author", sa.String(256), nullable=False, comment="customer, an agent id, or system"),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("external_id", sa.String(512), nullable=True, comment="e-mail Message-ID, SMS id"),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_messages_conversation", "messages", ["conversation_id", "id"])
    op.create_index("ix_messages_external", "messages", ["external_id"])

    op.create_table(
        "message_attachments",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("message_id", ID, sa.ForeignKey("messages.id", ondelete="CASCADE"), nullable=False),
        sa.Column("filename", sa.String(512), nullable=False),
        sa.Column("content_type", sa.String(255), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
    )
    op.create_index("ix_message_attachments_message", "message_attachments", ["message_id"])


def downgrade() -> None:
    op.drop_index("ix_message_attachments_message", table_name="message_attachments")
    op.drop_table("message_attachments")
    op.drop_index("ix_messages_external", table_name="messages")
    op.drop_index("ix_messages_conversation", table_name="messages")
    op.drop_table("messages")
    for ix in (
        "ix_conversations_updated",
        "ix_conversations_token",
        "ix_conversations_task",
        "ix_conversations_thread",
    ):
        op.drop_index(ix, table_name="conversations")
    op.drop_table("conversations")
