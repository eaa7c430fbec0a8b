"""Puts conversations into a service (called from wiring.py after the omnichannel block):
the hub as a sink, its component, mailbox readers, reply senders and the HTTP routes."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.routing import BaseRoute

from cc_router.conversations.hub import ConversationHub
from cc_router.conversations.mail_in import MailboxReader
from cc_router.conversations.store import ConversationStore
from cc_router.core.spec import Channel
from cc_router.omni.attach import Omni
from cc_router.service import Service
from cc_router.store.engine import open_engine

PURGE_EVERY_S = 3600.0


@dataclass
class ConversationsComponent:
    hub: ConversationHub
    intake_ready: asyncio.Event
    name: str = "conversations"
    purged: int = 0
    own_engine: AsyncEngine | None = None
    """The pool of its own (`own_engine`), closed when the component stops."""

    async def run(self) -> None:
        try:
            if not self.hub.ready.is_set():
                await self.intake_ready.wait()
                await self.hub.resume()
            while True:
                self.purged += await self.hub.purge()
                await asyncio.sleep(PURGE_EVERY_S)
        finally:
            if self.own_engine is not None:
                await self.own_engine.dispose()


@dataclass
class Conversations:
    hub: ConversationHub
    component: ConversationsComponent
    readers: list[MailboxReader] = field(default_factory=list)

    def routes(self) -> list[BaseRoute]:
        """The customer's chat widget and the agent's conversation routes."""
        from cc_router.conversations import agent_routes, chat_routes

        return [*chat_routes.routes(self.hub), *agent_routes.routes(self.hub)]


def check_settings(service: Service) -> None:
    """Topic and mailbox queues must exist and take the right channel."""
    conf = service.config
    queues = {q.name: q.channel for q in conf.queues}
    s = conf.conversations
    wanted = [(t.queue, Channel.CHAT, f"chat topic {t.name}") for t in s.chat.topics]
    for box in s.mailboxes:
        wanted.append((box.queue, Channel.EMAIL, f"mailbox {box.name}"))
        wanted.extend((r.queue, Channel.EMAIL, f"mailbox {box.name} rule") for r in box.rules)
    for queue, channel, who in wanted:
        if queue not in queues:
            raise ValueError(f"{conf.source}: conversations: {who} names unknown queue {queue!r}")
        if queues[queue] is not channel:
            raise ValueError(
                f"{conf.source}: conversations: {who}: queue {queue} takes {queues[queue]}, not {channel}"
            )


def own_engine(shared: AsyncEngine, store_url: str | None, pool_size: int) -> AsyncEngine:
    """A pool of its own on a server database: every customer's and agent's message is a
    short transaction, and thousands of chats at once would otherwise queue behind (and
    for) the connections of the store's writer and the task store. SQLite has one writer
    at a time anyway (more connections would only wait on its lock), and without the
    store's URL (tests handing in a configured engine) the engine is shared as given."""
    if store_url is None or shared.dialect.name == "sqlite":
        return shared
    # No overflow: overflow connections are closed on return, so bursts of chats would pay
    # asyncpg's connect and type introspection again and again. No pre-ping: it is one more
    # round trip on every checkout, and a message is one or two checkouts; after a server
    # restart the first statement on a dead connection fails, and SQLAlchemy then drops
    # every connection older than it, so only requests in flight then see an error.
    return open_engine(store_url, pool_size=pool_size, max_overflow=0)


def build(service: Service, omni: Omni, store_url: str | None = None) -> Conversations:
    """The hub (a sink), its component and the mailbox readers; built before the HTTP app,
    which serves `Conversations.routes()`."""
    check_settings(service)
    settings = service.config.conversations
    engine = own_engine(omni.engine, store_url, settings.sql_pool_size)
    hub = ConversationHub(service, omni.intake, ConversationStore(engine), settings)
    service.sinks.append(hub.sink)
    comp = ConversationsComponent(
        hub, omni.intake.ready, own_engine=None if engine is omni.engine else engine
    )
    service.components.append(comp)
    conv = Conversations(hub, comp)

    if settings.smtp is not None and settings.mailboxes:
        from cc_router.conversations.channels_out import MailSender

        hub.email_out = MailSender(settings.smtp, settings.mailboxes)
    for box in settings.mailboxes:
        reader = MailboxReader(box, hub.email_in, settings.max_attachment_bytes)
        conv.readers.append(reader)
        service.components.append(reader)
    return conv


def install(conv: Conversations, omni: Omni) -> Conversations:
    """After omnichannel's own install: SMS replies go out through its Asterisk glue, and
    a subscriber's next SMS joins the open conversation."""
    if omni.asterisk is not None:
        from cc_router.conversations.channels_out import SmsSender

        conv.hub.sms_out = SmsSender(omni.asterisk)
    omni.messages.thread = conv.hub.sms_in
    return conv
