"""Reading a support mailbox over IMAP (aioimaplib): unseen messages become conversation
messages, then are flagged \\Seen. IDLE when the server offers it (woken on new mail,
renewed every `poll_s`), else polling every `poll_s`.

A message is stored before it is flagged, and the store skips Message-IDs it holds, so a
crash between the two re-reads it without a duplicate.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Awaitable, Callable
from typing import Any

import aioimaplib
import structlog

from cc_router.conversations.mail_parse import InboundMail, parse_mail
from cc_router.conversations.settings import MailboxConfig

log = structlog.get_logger("cc_router.conversations.imap")

Deliver = Callable[[InboundMail, MailboxConfig], Awaitable[str | None]]
_UID = re.compile(rb"UID (\d+)")
FETCH_BATCH = 100
"""Messages per FETCH: few round trips, and a bounded response in memory."""


class MailboxReader:
    def __init__(self, box: MailboxConfig, deliver: Deliver, max_attachment_bytes: int = 10_000_000) -> None:
        self.box = box
        self.deliver = deliver
        self.max_attachment_bytes = max_attachment_bytes
        self.name = f"imap:{box.name}"
        self.taken = 0
        self.idle_used = False
        self.connected = asyncio.Event()

    async def run(self) -> None:
        """Until cancelled; connection errors end the run (the service restarts it with backoff)."""
        box = self.box
        cls = aioimaplib.IMAP4_SSL if box.imap_tls else aioimaplib.IMAP4
        imap = cls(host=box.imap_host, port=box.imap_port, timeout=30)
        try:
            await imap.wait_hello_from_server()
            r = await imap.login(box.username, box.password.get_secret_value())
            if r.result != "OK":
                raise RuntimeError(f"IMAP login to {box.imap_host}:{box.imap_port} as {box.username} refused")
            r = await imap.select(box.folder)
            if r.result != "OK":
                raise RuntimeError(f"IMAP folder {box.folder!r} cannot be selected")
            self.idle_used = imap.has_capability("IDLE")
            log.info("imap_connected", mailbox=box.name, idle=self.idle_used)
            self.connected.set()
            while True:
                await self.take_unseen(imap)
                if self.idle_used:
                    idle = await imap.idle_start(timeout=box.poll_s)
                    with contextlib.suppress(TimeoutError):
                        await imap.wait_server_push(timeout=box.poll_s + 5)
                    imap.idle_done()
                    async with asyncio.timeout(10):
                        await idle
                else:
                    await asyncio.sleep(box.poll_s)
        finally:
            self.connected.clear()
            with contextlib.suppress(Exception):
                async with asyncio.timeout(3):
                    await imap.logout()

    async def take_unseen(self, imap: aioimaplib.IMAP4) -> int:
        r = await imap.uid_search("UNSEEN", charset=None)
        if r.result != "OK":
            raise RuntimeError(f"IMAP SEARCH failed: {r.lines!r}")
        uids = [u.decode() for line in r.lines[:1] for u in bytes(line).split() if u.isdigit()]
        n = 0
        for at in range(0, len(uids), FETCH_BATCH):
            n += await self._take(imap, uids[at : at + FETCH_BATCH])
        return n

    async def _take(self, imap: aioimaplib.IMAP4, uids: list[str]) -> int:
        """One FETCH and one STORE for a batch of messages, not one of each per message: a
        round trip to the server each was most of the time a message took."""
        r = await imap.uid("fetch", ",".join(uids), "(UID BODY.PEEK[])")
        got = fetched(r.lines) if r.result == "OK" else {}
        taken: list[str] = []
        for uid in uids:
            raw = got.get(uid)
            if raw is None:
                log.warning("imap_fetch_failed", mailbox=self.box.name, uid=uid)
                continue
            try:
                mail = parse_mail(raw, self.max_attachment_bytes)
            except Exception as e:
                # A message we cannot read stays unseen for a person to look at in the mailbox.
                log.warning("email_unreadable", mailbox=self.box.name, uid=uid, error=str(e))
                continue
            await self.deliver(mail, self.box)
            taken.append(uid)
            self.taken += 1
        if taken:
            # Stored first, flagged after: a crash in between reads them again, and the
            # store skips the Message-IDs it holds.
            await imap.uid("store", ",".join(taken), "+FLAGS", "(\\Seen)")
        return len(taken)


def fetched(lines: list[Any]) -> dict[str, bytes]:
    """UID -> message from a FETCH response: each message is a literal (bytearray) after
    the line that opens it (`* 7 FETCH (UID 12 BODY[] {345}`); a server may instead name
    the UID after the literal (`UID 12)`)."""
    out: dict[str, bytes] = {}
    for i, part in enumerate(lines):
        if not isinstance(part, bytearray):
            continue
        for near in (lines[i - 1] if i else b"", lines[i + 1] if i + 1 < len(lines) else b""):
            m = _UID.search(bytes(near)) if not isinstance(near, bytearray) else None
            if m is not None:
                out[m.group(1).decode()] = bytes(part)
                break
    return out
