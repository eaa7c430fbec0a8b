"""Agents' replies leaving cc-router: e-mail over SMTP (aiosmtplib), SMS through Asterisk
(AMI MessageSend via the omni SMS glue, one MESSAGE per SMS part)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aiosmtplib
import structlog

from cc_router.conversations.mail_parse import compose_reply
from cc_router.conversations.settings import MailboxConfig, SmtpConfig
from cc_router.conversations.sms_parts import sms_parts
from cc_router.conversations.store import Conversation
from cc_router.omni.asterisk_glue import AsteriskOmni
from cc_router.omni.campaigns import InboundMessage

log = structlog.get_logger("cc_router.conversations.out")


class MailSender:
    def __init__(self, smtp: SmtpConfig, mailboxes: Sequence[MailboxConfig]) -> None:
        self.smtp = smtp
        self.mailboxes = {m.name: m for m in mailboxes}
        self.sent = 0

    async def __call__(self, conv: Conversation, body: str, thread: Sequence[str]) -> str:
        box = self.mailboxes.get(str(conv.attributes.get("mailbox", "")))
        if box is None:
            box = next(iter(self.mailboxes.values()))
        msg = compose_reply(
            from_addr=box.address, to_addr=conv.customer, subject=conv.subject, body=body, thread=thread
        )
        s = self.smtp
        kwargs: dict[str, Any] = {
            "hostname": s.host,
            "port": s.port,
            "use_tls": s.tls,
            "start_tls": s.starttls and not s.tls,
            "timeout": s.timeout_s,
        }
        if s.username:
            kwargs["username"] = s.username
            kwargs["password"] = s.password.get_secret_value() if s.password else ""
        await aiosmtplib.send(msg, **kwargs)
        self.sent += 1
        log.info("email_reply_sent", conversation_id=conv.id, mailbox=box.name)
        return str(msg["Message-ID"])


class SmsSender:
    def __init__(self, asterisk: AsteriskOmni) -> None:
        self.asterisk = asterisk

    async def __call__(self, conv: Conversation, body: str) -> int:
        a = conv.attributes
        msg = InboundMessage(
            sender=str(a.get("sender", a.get("from", ""))),
            to=str(a.get("to", "")),
            number=str(a.get("number", "")),
            body="",
            message_id=str(a.get("message_id", "")),
            node=str(a.get("node", "")),
        )
        parts = sms_parts(body)
        for part in parts:
            await self.asterisk.send_reply(msg, part)
        return len(parts)
