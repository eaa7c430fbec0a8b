"""E-mail in and out without IO: an RFC 5322 message -> what a conversation keeps, and an
agent's reply -> a message with the threading headers mail clients follow."""

from __future__ import annotations

import email
import email.policy
import html
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formataddr, getaddresses, make_msgid, parseaddr

from cc_router.conversations.store import Attachment

_MSGID = re.compile(r"<[^<>\s]+>")
_TAGS = re.compile(r"<[^>]*>")


@dataclass(frozen=True, slots=True)
class InboundMail:
    message_id: str
    in_reply_to: str
    references: tuple[str, ...]
    sender: str
    """Address only, lower case."""
    sender_name: str
    to: tuple[str, ...]
    subject: str
    body: str
    attachments: tuple[Attachment, ...] = field(default_factory=tuple)

    @property
    def thread_ids(self) -> list[str]:
        """Ids this message answers, nearest first."""
        ids = [self.in_reply_to] if self.in_reply_to else []
        ids.extend(r for r in reversed(self.references) if r not in ids)
        return ids


def parse_mail(raw: bytes, max_attachment_bytes: int = 10_000_000) -> InboundMail:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    name, addr = parseaddr(str(msg.get("From", "")))
    to = tuple(
        a.lower()
        for _, a in getaddresses([str(v) for v in msg.get_all("To", []) + msg.get_all("Cc", [])])
        if a
    )
    ids = _MSGID.findall(str(msg.get("Message-ID", "")))
    irt = _MSGID.findall(str(msg.get("In-Reply-To", "")))
    refs = tuple(_MSGID.findall(str(msg.get("References", ""))))
    part = msg.get_body(preferencelist=("plain", "html"))
    body = ""
    if part is not None:
        body = str(part.get_content())
        if part.get_content_subtype() == "html":
            body = html.unescape(_TAGS.sub("", body))
    files = []
    for att in msg.iter_attachments():
        data = att.get_payload(decode=True)
        if not isinstance(data, bytes) or len(data) > max_attachment_bytes:
            continue
        files.append(Attachment(att.get_filename() or "attachment", att.get_content_type(), data))
    return InboundMail(
        message_id=ids[0] if ids else "",
        in_reply_to=irt[0] if irt else "",
        references=refs,
        sender=addr.lower(),
        sender_name=name,
        to=to,
        subject=str(msg.get("Subject", "")),
        body=body.replace("\r\n", "\n").strip(),
        attachments=tuple(files),
    )


def reply_subject(subject: str) -> str:
    return subject if subject.lower().startswith("re:") else f"Re: {subject}".strip()


def compose_reply(
    *,
    from_addr: str,
    to_addr: str,
    subject: str,
    body: str,
    thread: Sequence[str],
    display_name: str = "",
) -> EmailMessage:
    """`thread`: the Message-IDs of the conversation so far, oldest first; the last is the
    message answered (In-Reply-To), all of them the References (RFC 5322 3.6.4)."""
    msg = EmailMessage()
    msg["From"] = formataddr((display_name, from_addr)) if display_name else from_addr
    msg["To"] = to_addr
    msg["Subject"] = reply_subject(subject)
    domain = from_addr.rpartition("@")[2] or None
    msg["Message-ID"] = make_msgid(domain=domain)
    if thread:
        msg["In-Reply-To"] = thread[-1]
        msg["References"] = " ".join(thread[-20:])
    msg.set_content(body)
    return msg
