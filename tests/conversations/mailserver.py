"""An SMTP relay (aiosmtpd) for the e-mail tests that hands what it receives to the private
Dovecot (`cc_router.testing.dovecot`) over LMTP, as a smarthost would."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

from aiosmtpd.controller import Controller

from cc_router.testing.dovecot import PASSWORD, MailServer, dovecot, free_port

__all__ = ["PASSWORD", "MailServer", "dovecot", "smtp_relay"]


class _Relay:
    def __init__(self, server: MailServer) -> None:
        self.server = server
        self.received = 0

    async def handle_DATA(self, srv: object, session: object, envelope: object) -> str:
        rcpts = list(envelope.rcpt_tos)  # type: ignore[attr-defined]
        data = envelope.content  # type: ignore[attr-defined]
        sender = envelope.mail_from  # type: ignore[attr-defined]
        for r in rcpts:
            await asyncio.to_thread(self.server.deliver, data, r, sender)
        self.received += 1
        return "250 OK delivered"


@contextlib.contextmanager
def smtp_relay(server: MailServer) -> Iterator[tuple[int, _Relay]]:
    handler = _Relay(server)
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, handler
    finally:
        controller.stop()
