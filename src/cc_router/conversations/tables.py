"""Conversation tables: one `conversations` row per customer thread, its `messages` in
both directions, and `message_attachments` (bytes kept in SQL, so one backup holds all).

They share `Base.metadata` with the store, so one Alembic history covers them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cc_router.store.tables import Base, Id


class ConversationRow(Base):
    __tablename__ = "conversations"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16), comment="chat, email, sms")
    status: Mapped[str] = mapped_column(String(16), comment="open, closed")
    queue: Mapped[str] = mapped_column(String(128))
    customer: Mapped[str] = mapped_column(String(256), comment="name, e-mail address or phone number")
    subject: Mapped[str] = mapped_column(String(1024))
    thread_key: Mapped[str] = mapped_column(String(256), comment="finds the open thread of a sender")
    task_id: Mapped[str | None] = mapped_column(String(128), comment="the interaction routed now, if any")
    agent_id: Mapped[str | None] = mapped_column(String(128), comment="the agent who last held it")
    token_hash: Mapped[str | None] = mapped_column(String(64), comment="sha256 of the chat customer's token")
    attributes: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_conversations_thread", "channel", "thread_key", "status"),
        Index("ix_conversations_task", "task_id"),
        Index("ix_conversations_token", "token_hash", unique=True),
        Index("ix_conversations_updated", "updated_at"),
    )


class MessageRow(Base):
    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("conversations.id", ondelete="CASCADE")
    )
    task_id: Mapped[str | None] = mapped_column(String(128))
    direction: Mapped[str] = mapped_column(String(8), comment="in (from the customer), out (to them)")
    author: Mapped[str] = mapped_column(String(256), comment="customer, an agent id, or system")
    body: Mapped[str] = mapped_column(Text)
    external_id: Mapped[str | None] = mapped_column(String(512), comment="e-mail Message-ID, SMS id")
    created_at: Mapped[datetime]

    __table_args__ = (
        Index("ix_messages_conversation", "conversation_id", "id"),
        Index("ix_messages_external", "external_id"),
    )


class AttachmentRow(Base):
    __tablename__ = "message_attachments"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    message_id: Mapped[int] = mapped_column(Id, ForeignKey("messages.id", ondelete="CASCADE"))
    filename: Mapped[str] = mapped_column(String(512))
    content_type: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)

    __table_args__ = (Index("ix_message_attachments_message", "message_id"),)


conversations = Base.metadata.tables["conversations"]
messages = Base.metadata.tables["messages"]
message_attachments = Base.metadata.tables["message_attachments"]
