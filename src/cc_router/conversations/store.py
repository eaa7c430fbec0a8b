"""Conversations and messages in SQL. Every write is awaited by the caller: a customer's
message is durable before the customer hears "sent", an agent's before it goes out.

Each call holds a pooled connection for as few round trips as it can: reads and one-statement
writes run without a transaction (no BEGIN, no ROLLBACK or COMMIT), and what a chat start
stores goes in one transaction. Under thousands of chats the event loop is busy, every
round trip costs a turn of it, and a connection held across four turns instead of one is
a pool four times smaller."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, literal, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from cc_router.conversations.tables import conversations, message_attachments, messages


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class Conversation:
    id: str
    channel: str
    status: str
    queue: str
    customer: str
    subject: str
    thread_key: str
    task_id: str | None
    agent_id: str | None
    attributes: Mapping[str, Any]
    created_at: datetime

    def public(self) -> dict[str, Any]:
        return {
            "conversation_id": self.id,
            "channel": self.channel,
            "status": self.status,
            "queue": self.queue,
            "customer": self.customer,
            "subject": self.subject,
            "task_id": self.task_id,
            "agent_id": self.agent_id,
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class Message:
    id: int
    conversation_id: str
    task_id: str | None
    direction: str
    author: str
    body: str
    external_id: str | None
    created_at: datetime
    attachments: Sequence[Mapping[str, Any]] = field(default_factory=tuple)

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "direction": self.direction,
            "author": self.author,
            "body": self.body,
            "at": self.created_at.isoformat(),
            "attachments": [dict(a) for a in self.attachments],
        }


def _conv(row: Any) -> Conversation:
    return Conversation(
        row.id,
        row.channel,
        row.status,
        row.queue,
        row.customer,
        row.subject,
        row.thread_key,
        row.task_id,
        row.agent_id,
        row.attributes,
        row.created_at,
    )


class ConversationStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._bare = engine.execution_options(isolation_level="AUTOCOMMIT")
        """The same pool, without a transaction: for one statement, atomic on its own."""

    async def create(
        self,
        conv_id: str,
        channel: str,
        queue: str,
        customer: str,
        *,
        subject: str = "",
        thread_key: str = "",
        token: str | None = None,
        attributes: Mapping[str, Any] | None = None,
        task_id: str | None = None,
        first: str = "",
    ) -> Conversation:
        """A new conversation; a chat start names the task about to be routed for it and
        stores the customer's first message with it, in one transaction."""
        now = datetime.now(UTC)
        conv = Conversation(
            conv_id, channel, "open", queue, customer[:256], subject[:1024], thread_key[:256],
            task_id, None, dict(attributes or {}), now,
        )  # fmt: skip
        values = {
            "id": conv_id,
            "channel": channel,
            "status": "open",
            "queue": queue,
            "customer": conv.customer,
            "subject": conv.subject,
            "thread_key": conv.thread_key,
            "task_id": task_id,
            "agent_id": None,
            "token_hash": token_hash(token) if token else None,
            "attributes": conv.attributes,
            "created_at": now,
            "updated_at": now,
            "closed_at": None,
        }
        if first and self.engine.dialect.name == "postgresql":
            # One statement, atomic on its own: the conversation's INSERT as a CTE feeding
            # the first message's. Four round trips (BEGIN, two INSERTs, COMMIT) become one
            # on the path of every chat start.
            new_conv = insert(conversations).values(values).returning(conversations.c.id).cte("new_conv")
            first_message = {
                "task_id": task_id,
                "direction": "in",
                "author": "customer",
                "body": first,
                "external_id": None,
                "created_at": now,
            }
            cols = [literal(v, messages.c[k].type).label(k) for k, v in first_message.items()]
            stmt = (
                insert(messages)
                .from_select(["conversation_id", *first_message], select(new_conv.c.id, *cols))
                .add_cte(new_conv)
            )
            async with self._bare.connect() as conn:
                await conn.execute(stmt)
            return conv
        async with self.engine.begin() if first else self._bare.connect() as conn:
            await conn.execute(insert(conversations).values(values))
            if first:
                await _insert_message(conn, conv_id, "in", "customer", first, task_id, None, (), now)
        return conv

    async def get(self, conv_id: str) -> Conversation | None:
        return await self._one(conversations.c.id == conv_id)

    async def by_token(self, token: str) -> Conversation | None:
        return await self._one(conversations.c.token_hash == token_hash(token))

    async def by_task(self, task_id: str) -> Conversation | None:
        return await self._one(conversations.c.task_id == task_id)

    async def open_thread(self, channel: str, thread_key: str) -> Conversation | None:
        t = conversations
        return await self._one(
            (t.c.channel == channel) & (t.c.thread_key == thread_key) & (t.c.status == "open")
        )

    async def by_external_ids(self, ids: Sequence[str]) -> Conversation | None:
        """The conversation holding any of these message ids (e-mail References)."""
        if not ids:
            return None
        holding = (
            select(messages.c.conversation_id)
            .where(messages.c.external_id.in_(list(ids)))
            .order_by(messages.c.id.desc())
            .limit(1)
            .scalar_subquery()
        )
        return await self._one(conversations.c.id == holding)

    async def has_external_id(self, external_id: str) -> bool:
        async with self._bare.connect() as conn:
            row = (
                await conn.execute(
                    select(messages.c.id).where(messages.c.external_id == external_id).limit(1)
                )
            ).first()
        return row is not None

    async def open_with_tasks(self) -> list[Conversation]:
        t = conversations
        async with self._bare.connect() as conn:
            rows = await conn.execute(select(t).where(t.c.task_id.is_not(None) & (t.c.status == "open")))
            return [_conv(r) for r in rows]

    async def _one(self, where: Any) -> Conversation | None:
        async with self._bare.connect() as conn:
            return await _one(conn, where)

    async def with_messages(self, conv_id: str) -> tuple[Conversation | None, list[Message]]:
        """The conversation and its messages, on one connection (what a page opens with)."""
        return await self._with_messages(conversations.c.id == conv_id)

    async def task_with_messages(self, task_id: str) -> tuple[Conversation | None, list[Message]]:
        return await self._with_messages(conversations.c.task_id == task_id)

    async def _with_messages(self, where: Any) -> tuple[Conversation | None, list[Message]]:
        # One statement (the conversation joined to its messages and their attachments):
        # every page open and every agent's first look at a chat asks for this.
        c = conversations
        one = select(c.c.id).where(where).limit(1).scalar_subquery()
        stmt = (
            select(c, *_MESSAGE_COLUMNS, *_ATTACHMENT_COLUMNS)
            .select_from(c.outerjoin(messages, messages.c.conversation_id == c.c.id).outerjoin(*_ATTACHED))
            .where(c.c.id == one)
            .order_by(messages.c.id, message_attachments.c.id)
        )
        async with self._bare.connect() as conn:
            rows = list(await conn.execute(stmt))
        if not rows:
            return None, []
        return _conv(rows[0]), _assemble(rows[0].id, rows)

    async def set(self, conv_id: str, **values: Any) -> None:
        values["updated_at"] = datetime.now(UTC)
        if values.get("status") == "closed":
            values["closed_at"] = values["updated_at"]
        async with self._bare.connect() as conn:
            await conn.execute(update(conversations).where(conversations.c.id == conv_id).values(values))

    async def add_message(
        self,
        conv_id: str,
        direction: str,
        author: str,
        body: str,
        *,
        task_id: str | None = None,
        external_id: str | None = None,
        attachments: Sequence[Attachment] = (),
    ) -> Message:
        now = datetime.now(UTC)
        # One INSERT (a transaction only with attachments). The conversation's updated_at,
        # which retention goes by, is not touched: a message either starts a routing turn
        # or arrives during one, and `set` stamps it when the turn starts and when it ends.
        async with self.engine.begin() if attachments else self._bare.connect() as conn:
            return await _insert_message(
                conn, conv_id, direction, author, body, task_id, external_id, attachments, now
            )

    async def messages(self, conv_id: str) -> list[Message]:
        async with self._bare.connect() as conn:
            return await _messages(conn, conv_id)

    async def attachment(self, conv_id: str, attachment_id: int) -> Attachment | None:
        m, a = messages, message_attachments
        async with self._bare.connect() as conn:
            row = (
                await conn.execute(
                    select(a.c.filename, a.c.content_type, a.c.data)
                    .join(m, m.c.id == a.c.message_id)
                    .where((a.c.id == attachment_id) & (m.c.conversation_id == conv_id))
                )
            ).first()
        return Attachment(row.filename, row.content_type, row.data) if row is not None else None

    async def purge(self, retention_days: int, now: datetime | None = None) -> int:
        """Delete conversations idle longer than the retention (closed, or with nothing
        routed now, and not turned over since the cutoff), with their messages and
        attachments."""
        cutoff = (now or datetime.now(UTC)) - timedelta(days=retention_days)
        c, m, a = conversations, messages, message_attachments
        async with self.engine.begin() as conn:
            old = select(c.c.id).where(
                ((c.c.status == "closed") | c.c.task_id.is_(None)) & (c.c.updated_at < cutoff)
            )
            ids = [r.id for r in await conn.execute(old)]
            if not ids:
                return 0
            # Explicit deletes: SQLite enforces ON DELETE CASCADE only with a pragma.
            msg_ids = select(m.c.id).where(m.c.conversation_id.in_(ids))
            await conn.execute(delete(a).where(a.c.message_id.in_(msg_ids)))
            await conn.execute(delete(m).where(m.c.conversation_id.in_(ids)))
            await conn.execute(delete(c).where(c.c.id.in_(ids)))
        return len(ids)


async def _one(conn: AsyncConnection, where: Any) -> Conversation | None:
    row = (await conn.execute(select(conversations).where(where).limit(1))).first()
    return _conv(row) if row is not None else None


async def _insert_message(
    conn: AsyncConnection,
    conv_id: str,
    direction: str,
    author: str,
    body: str,
    task_id: str | None,
    external_id: str | None,
    attachments: Sequence[Attachment],
    now: datetime,
) -> Message:
    mid = (
        await conn.execute(
            insert(messages)
            .values(
                conversation_id=conv_id,
                task_id=task_id,
                direction=direction,
                author=author[:256],
                body=body,
                external_id=external_id[:512] if external_id else None,
                created_at=now,
            )
            .returning(messages.c.id)
        )
    ).scalar_one()
    links = []
    for a in attachments:
        aid = (
            await conn.execute(
                insert(message_attachments)
                .values(
                    message_id=mid,
                    filename=a.filename[:512],
                    content_type=a.content_type[:255],
                    size=len(a.data),
                    data=a.data,
                )
                .returning(message_attachments.c.id)
            )
        ).scalar_one()
        links.append(_link(conv_id, aid, a.filename, a.content_type, len(a.data)))
    return Message(mid, conv_id, task_id, direction, author, body, external_id, now, tuple(links))


_MESSAGE_COLUMNS = (
    messages.c.id.label("m_id"),
    messages.c.task_id.label("m_task_id"),
    messages.c.direction,
    messages.c.author,
    messages.c.body,
    messages.c.external_id,
    messages.c.created_at.label("m_created_at"),
)
_ATTACHMENT_COLUMNS = (
    message_attachments.c.id.label("a_id"),
    message_attachments.c.filename,
    message_attachments.c.content_type,
    message_attachments.c.size,
)
_ATTACHED = (message_attachments, message_attachments.c.message_id == messages.c.id)


async def _messages(conn: AsyncConnection, conv_id: str) -> list[Message]:
    """A conversation's messages with their attachments' links, oldest first, in one
    statement (the attachments' bytes stay in SQL until downloaded)."""
    stmt = (
        select(*_MESSAGE_COLUMNS, *_ATTACHMENT_COLUMNS)
        .select_from(messages.outerjoin(*_ATTACHED))
        .where(messages.c.conversation_id == conv_id)
        .order_by(messages.c.id, message_attachments.c.id)
    )
    return _assemble(conv_id, list(await conn.execute(stmt)))


def _assemble(conv_id: str, rows: Sequence[Any]) -> list[Message]:
    """Messages from rows of message (m_id) x attachment (a_id) columns; a row without a
    message (a conversation with none, outer-joined) adds nothing."""
    out: list[Message] = []
    files: list[dict[str, Any]] = []
    for n, r in enumerate(rows):
        if r.m_id is None:
            continue
        if r.a_id is not None:
            files.append(_link(conv_id, r.a_id, r.filename, r.content_type, r.size))
        if n + 1 < len(rows) and rows[n + 1].m_id == r.m_id:
            continue  # more attachments of this message follow
        out.append(
            Message(
                r.m_id,
                conv_id,
                r.m_task_id,
                r.direction,
                r.author,
                r.body,
                r.external_id,
                r.m_created_at,
                tuple(files),
            )
        )
        files = []
    return out


def _link(conv_id: str, aid: int, filename: str, content_type: str, size: int) -> dict[str, Any]:
    return {
        "id": aid,
        "filename": filename,
        "content_type": content_type,
        "size": size,
        "url": f"/api/conversations/{conv_id}/attachments/{aid}",
    }
