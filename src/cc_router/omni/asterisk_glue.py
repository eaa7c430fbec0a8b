"""Fax and SMS over Asterisk: `UserEvent CCRFax` / `CCRMessage` become tasks (or campaign
enrolments), and campaign replies go out with AMI `MessageSend`.

AMI hooks are synchronous and run on the AMI read path, so each event only starts a task;
the awaited work (SQL, replies) happens there.

Replies: `MessageSend` with `Destination: pjsip:trunk/sip:<subscriber>@<host>` (verified
against the sandbox: Asterisk 22 sends a SIP MESSAGE with the UTF-8 body to that URI),
`From: sip:<service number>@<host>`, and the body as `Base64Body` so Chinese text, commas
and newlines survive the AMI line format. Set CC_ROUTER_SMS_REPLY_DESTINATION (a template,
see `reply_destination`) to send replies to a fixed SMS gateway.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Protocol

import structlog

from cc_router.config import environment
from cc_router.core.spec import Channel
from cc_router.omni.campaign_match import subscriber_of
from cc_router.omni.campaigns import InboundMessage, MessageRouter, task_id_for
from cc_router.omni.intake import TaskIntake
from cc_router.omni.tasks import TaskError, TaskSubmission

log = structlog.get_logger("cc_router.omni.asterisk")


class AmiNodeLike(Protocol):
    node: str

    def on_user_event(self, name: str, callback: Callable[[dict[str, str]], None]) -> None: ...

    async def send_action(self, action: Mapping[str, str | Sequence[str]]) -> Any: ...


def decode_body(b64: str) -> str:
    """BodyB64 -> text; bytes that are not UTF-8 become U+FFFD rather than losing the message."""
    try:
        raw = base64.b64decode(b64.strip(), validate=False)
    except (binascii.Error, ValueError):
        raise ValueError(f"BodyB64 is not base64 ({len(b64)} chars)") from None
    return raw.decode("utf-8", errors="replace")


def message_ref(h: Mapping[str, str]) -> str:
    """One id per CCRMessage event. Not the Uniqueid alone: every text goes through the
    one `Message/ast_msg_queue` channel, so Asterisk gives them all the same Uniqueid and a
    second SMS would pass for a retry of the first. With the event's Timestamp (manager.conf
    `timestampevents = yes`, microseconds) it is unique and the same for the same event;
    without one a random suffix (an event is never delivered twice, an SMS not resent)."""
    uid = h.get("Uniqueid", "").strip()
    stamp = h.get("Timestamp", "").strip()
    suffix = stamp or uuid.uuid4().hex[:16]
    return f"{uid}@{suffix}" if uid else suffix


DEFAULT_REPLY_DESTINATION = "pjsip:{endpoint}/{uri}"


def reply_destination(sender: str, template: str = DEFAULT_REPLY_DESTINATION, endpoint: str = "trunk") -> str:
    """MessageSend Destination answering `sender` (the CCRMessage From).

    Asterisk gives the From without the sender's port (`<sip:13800138000@127.0.0.1>`), so
    the default, `pjsip:trunk/sip:13800138000@127.0.0.1`, reaches a gateway on 5060 only.
    A template with `{user}` names the SMS gateway instead, e.g.
    `pjsip:trunk/sip:{user}@10.0.0.5:5070` (placeholders: user, host, uri, endpoint).
    """
    text = sender.strip()
    if "<" in text and ">" in text:
        text = text[text.index("<") + 1 : text.index(">")]
    uri = text.split(";", 1)[0].strip()
    if uri.startswith("tel:"):
        uri = uri[4:]
    if not uri.startswith(("sip:", "sips:")):
        uri = f"sip:{uri}"
    rest = uri.split(":", 1)[1]
    user, _, host = rest.rpartition("@")
    return template.format(user=user or rest, host=host, uri=uri, endpoint=endpoint)


def reply_from(msg: InboundMessage) -> str:
    """The service number as the reply's sender, at the host the subscriber wrote to."""
    to = msg.to.strip()
    host = ""
    if "@" in to:
        host = to.split("@", 1)[1].split(">", 1)[0].split(";", 1)[0]
    return f"sip:{msg.number}@{host}" if host else f"sip:{msg.number}"


class AsteriskOmni:
    """Hooks the omni pieces onto AMI nodes."""

    def __init__(
        self,
        messages: MessageRouter,
        intake: TaskIntake,
        *,
        reply_template: str | None = None,
        reply_endpoint: str = "trunk",
    ) -> None:
        self.messages = messages
        self.intake = intake
        self.reply_template = (
            reply_template or environment.sms_reply_destination() or DEFAULT_REPLY_DESTINATION
        )
        self.reply_endpoint = reply_endpoint
        self.nodes: dict[str, AmiNodeLike] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self.replies_sent = 0
        messages.reply = self.send_reply

    def hook(self, node: AmiNodeLike) -> None:
        self.nodes[node.node] = node
        node.on_user_event("CCRMessage", lambda h: self._spawn(self.on_message(node.node, h)))
        node.on_user_event("CCRFax", lambda h: self._spawn(self.on_fax(node.node, h)))

    def unhook(self, node: AmiNodeLike) -> None:
        """A node drained away: replies go through the others (its own events have stopped)."""
        if self.nodes.get(node.node) is node:
            del self.nodes[node.node]

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("omni_ami_event_failed", error=f"{type(exc).__name__}: {exc}")

    async def drain(self) -> None:
        """Wait for the events being handled now (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # ------------------------------------------------------------ SMS

    async def on_message(self, node: str, h: Mapping[str, str]) -> None:
        try:
            body = decode_body(h.get("BodyB64", ""))
        except ValueError as e:
            log.warning("sms_bad_body", node=node, uniqueid=h.get("Uniqueid"), error=str(e))
            return
        msg = InboundMessage(
            sender=h.get("From", ""),
            to=h.get("To", ""),
            number=h.get("Number", "").strip(),
            body=body,
            message_id=message_ref(h),
            node=node,
        )
        if not msg.number or not msg.sender:
            log.warning("sms_missing_headers", node=node, uniqueid=msg.message_id)
            return
        await self._handle(msg)

    async def _handle(self, msg: InboundMessage) -> None:
        # The store may be briefly away; an SMS has no retransmission after Asterisk's 202.
        delay = 0.5
        for attempt in range(6):
            try:
                result = await self.messages.handle(msg)
                log.info(
                    "sms_received",
                    node=msg.node,
                    message_id=msg.message_id,
                    outcome=str(result.outcome),
                    campaign=result.campaign or None,
                    task_id=result.task_id or None,
                )
                return
            except TaskError as e:
                if e.status != 503 or attempt == 5:
                    log.error("sms_not_taken", message_id=msg.message_id, status=e.status, error=e.message)
                    return
            except Exception as e:
                if attempt == 5:
                    log.error("sms_not_taken", message_id=msg.message_id, error=f"{type(e).__name__}: {e}")
                    return
            await asyncio.sleep(delay)
            delay *= 2

    async def send_reply(self, msg: InboundMessage, text: str) -> None:
        node = self.nodes.get(msg.node) or next(iter(self.nodes.values()), None)
        if node is None:
            raise RuntimeError("no Asterisk node to send the reply through")
        action = {
            "Action": "MessageSend",
            "Destination": reply_destination(msg.sender, self.reply_template, self.reply_endpoint),
            "From": reply_from(msg),
            "Base64Body": base64.b64encode(text.encode("utf-8")).decode("ascii"),
        }
        reply = await node.send_action(action)
        first = reply[0] if isinstance(reply, list) and reply else reply
        if isinstance(first, Mapping) and first.get("Response") not in (None, "Success"):
            raise RuntimeError(f"MessageSend refused: {first.get('Message', first.get('Response'))}")
        self.replies_sent += 1
        log.info("sms_reply_sent", node=node.node, to=subscriber_of(msg.sender), message_id=msg.message_id)

    # ------------------------------------------------------------ fax

    def fax_queue(self, number: str) -> str | None:
        config = self.messages.config
        route = config.numbers.get(number)
        queues = {q.name: q for q in config.queues}
        if route is not None and route.queue in queues and queues[route.queue].channel is Channel.FAX:
            return route.queue
        return next((q.name for q in config.queues if q.channel is Channel.FAX), None)

    async def on_fax(self, node: str, h: Mapping[str, str]) -> None:
        number = h.get("Number", "").strip()
        status = h.get("Status", "").strip()
        pages = h.get("Pages", "").strip()
        uid = h.get("Uniqueid", "")
        if status != "SUCCESS" and pages in ("", "0"):
            # Nothing arrived that an agent could read; the call is in the CDR.
            log.warning(
                "fax_failed", node=node, number=number, status=status, error=h.get("Error", ""), uniqueid=uid
            )
            return
        queue = self.fax_queue(number)
        if queue is None:
            log.error("fax_dropped_no_queue", node=node, number=number, file=h.get("File", ""))
            return
        route = self.messages.config.numbers.get(number)
        attributes = dict(route.attributes) if route is not None else {}
        attributes.update(
            {
                "file": h.get("File", ""),
                "status": status,
                "pages": pages,
                "number": number,
                "caller_num": h.get("CallerNum", ""),
                "error": h.get("Error", ""),
                "node": node,
            }
        )
        sub = TaskSubmission(
            task_id=task_id_for("fax", node, uid or h.get("File", "")),
            channel=Channel.FAX,
            queue=queue,
            priority=route.priority if route is not None else 0,
            customer=h.get("CallerNum", ""),
            subject=f"fax from {h.get('CallerNum', '') or 'unknown'} ({pages or '?'} pages)",
            attributes=attributes,
        )
        delay = 0.5
        for attempt in range(6):
            try:
                task, _ = await self.intake.submit(sub, "fax")
                log.info("fax_received", node=node, task_id=task.task_id, queue=queue, pages=pages)
                return
            except TaskError as e:
                if e.status != 503 or attempt == 5:
                    log.error(
                        "fax_not_taken", node=node, status=e.status, error=e.message, file=h.get("File")
                    )
                    return
            await asyncio.sleep(delay)
            delay *= 2
