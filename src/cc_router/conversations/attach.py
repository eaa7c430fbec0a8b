"""Puts conversations into a service (called from wiring.py after the omnichannel block):
the hub as a sink, its component, mailbox readers, reply senders and the HTTP routes."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from starlette.routing import BaseRoute

from cc_router.conversations.hub import ConversationHub
from cc_router.conversations.mail_in import MailboxReader
from cc_router.conversations.store import ConversationStore
from cc_router.core.spec import Channel
from cc_router.omni.attach import Omni
from cc_router.service import Service

PURGE_EVERY_S = 3600.0


@dataclass
class ConversationsComponent:
    hub: ConversationHub
    intake_ready: asyncio.Event
    name: str = "conversations"
    purged: int = 0

    async def run(self) -> None:
        if not self.hub.ready.is_set():
            await self.intake_ready.wait()
            await self.hub.resume()
        while True:
            self.purged += await self.hub.purge()
            await asyncio.sleep(PURGE_EVERY_S)


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


def build(service: Service, omni: Omni) -> Conversations:
    """The hub (a sink), its component and the mailbox readers; built before the HTTP app,
    which serves `Conversations.routes()`."""
    check_settings(service)
    settings = service.config.conversations
    hub = ConversationHub(service, omni.intake, ConversationStore(omni.engine), settings)
    service.sinks.append(hub.sink)
    comp = ConversationsComponent(hub, omni.intake.ready)
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
