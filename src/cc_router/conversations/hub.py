"""The conversation service: customer thread -> stored messages -> routed tasks -> the
agent's replies out over the customer's channel.

A conversation is the customer's thread; each time it needs an agent (a new chat, an
e-mail, an SMS with no task open) one task is routed through the omni intake, and the
task id links the two. Messages arriving while that task is held go straight to the agent.
`sink` runs inside the routing loop: memory only, SQL is spawned.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from functools import partial
from typing import Any

import structlog

from cc_router.conversations.feed import LiveFeed
from cc_router.conversations.mail_parse import InboundMail
from cc_router.conversations.settings import ChatTopic, ConversationsConfig, MailboxConfig
from cc_router.conversations.store import Attachment, Conversation, ConversationStore, Message, token_hash
from cc_router.core import commands as cmd
from cc_router.core import events as ev
from cc_router.core.records import Stage
from cc_router.core.spec import Channel
from cc_router.core.vocabulary import CONTINUING_OUTCOMES
from cc_router.live import expected_wait
from cc_router.live.expected_wait import rounded
from cc_router.omni.intake import TaskIntake
from cc_router.omni.tasks import TaskError, TaskSubmission
from cc_router.service import Service, handles

log = structlog.get_logger("cc_router.conversations")

FIGURES_TTL_S = 1.0
"""How old a waiting customer's place and expected wait may be."""
UPDATE_TRIES = 6
"""A conversation's follow-up write (its agent, its end) tried this often, with backoff
from 0.2 s (about 13 s in all), before it is given up with an error line."""

EmailOut = Callable[[Conversation, str, Sequence[str]], Awaitable[str]]
"""(conversation, body, thread Message-IDs oldest first) -> the sent Message-ID."""
SmsOut = Callable[[Conversation, str], Awaitable[int]]
"""(conversation, body) -> parts sent."""


class ConversationHub:
    def __init__(
        self, service: Service, intake: TaskIntake, store: ConversationStore, settings: ConversationsConfig
    ) -> None:
        self.service = service
        self.intake = intake
        self.store = store
        self.settings = settings
        self.feed = LiveFeed()
        self.estimator = expected_wait.attach(service)
        """The service's one expected-wait estimator (shared with the live view)."""
        self.by_task: dict[str, str] = {}
        """Routed task id -> conversation id, for the tasks not finished."""
        self.email_out: EmailOut | None = None
        self.sms_out: SmsOut | None = None
        self.ready = asyncio.Event()
        self._spawned: set[asyncio.Task[Any]] = set()
        self._leave_timers: dict[str, asyncio.TimerHandle] = {}
        self._figures: dict[str, tuple[float, dict[str, int], dict[str, float | None]]] = {}
        self._live_chats: dict[str, Conversation] = {}
        """Token hash -> a chat started here whose task is routed now: every request of its
        customer finds it without SQL. What changes while it is routed (the agent) is not
        read from it."""
        self._chat_tokens: dict[str, str] = {}
        """Conversation id -> its token hash, to forget it when its task ends."""

    # ------------------------------------------------------------ lifecycle

    async def resume(self) -> None:
        """After a restart: the open conversations whose tasks the intake routed again."""
        for conv in await self.store.open_with_tasks():
            if conv.task_id is not None and conv.task_id in self.service.router.interactions:
                self.by_task[conv.task_id] = conv.id
            elif conv.task_id is not None:
                await self._turn_over(conv.id, conv.channel)
        self.ready.set()

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._spawned.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._spawned.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("conversation_update_failed", error=f"{type(exc).__name__}: {exc}")

    async def drain(self) -> None:
        while self._spawned:
            await asyncio.gather(*list(self._spawned), return_exceptions=True)

    # ------------------------------------------------------------ routing follow-up

    @handles(cmd.Offer, cmd.InteractionQueued, cmd.InteractionConnected, cmd.InteractionFinished)
    def sink(self, commands: Sequence[cmd.Command], now: float) -> None:
        for c in commands:
            task_id = getattr(c, "interaction_id", "")
            conv_id = self.by_task.get(task_id)
            if conv_id is None:
                continue
            if isinstance(c, cmd.Offer):
                self.feed.publish(conv_id, {"type": "state", "status": "offered"})
            elif isinstance(c, cmd.InteractionQueued):
                self.feed.publish(conv_id, self.state(task_id))
            elif isinstance(c, cmd.InteractionConnected):
                self.feed.publish(conv_id, {"type": "state", "status": "connected", "agent": c.agent_id})
                self._spawn(self._retried(partial(self.store.set, conv_id, agent_id=c.agent_id), conv_id))
            elif isinstance(c, cmd.InteractionFinished) and c.outcome not in CONTINUING_OUTCOMES:
                del self.by_task[task_id]
                self._live_chats.pop(self._chat_tokens.pop(conv_id, ""), None)
                channel = str(c.channel)
                self.feed.publish(conv_id, {"type": "state", "status": "ended", "outcome": c.outcome})
                self._spawn(self._retried(partial(self._turn_over, conv_id, channel), conv_id))
                log.info(
                    "conversation_turn_finished",
                    conversation_id=conv_id,
                    task_id=task_id,
                    outcome=c.outcome,
                    wait_s=round(c.wait_s, 3),
                )

    async def _retried(self, write: Callable[[], Awaitable[None]], conv_id: str) -> None:
        """A write the routing loop asked for: no caller waits, so a store that refuses it
        for a while (pool exhausted, server restarting) is tried again, not skipped."""
        delay = 0.2
        for attempt in range(1, UPDATE_TRIES + 1):
            try:
                await write()
                return
            except Exception as exc:
                if attempt == UPDATE_TRIES:
                    raise  # `_done` logs it: conversation_update_failed
                log.warning(
                    "conversation_update_retrying",
                    conversation_id=conv_id,
                    attempt=attempt,
                    error=f"{type(exc).__name__}: {exc}"[:200],
                )
                await asyncio.sleep(delay)
                delay *= 2

    async def _turn_over(self, conv_id: str, channel: str) -> None:
        # A chat ends with its task; an e-mail or SMS thread stays open for the customer's answer.
        if channel == str(Channel.CHAT):
            await self.store.set(conv_id, task_id=None, status="closed")
        else:
            await self.store.set(conv_id, task_id=None)

    def holder(self, conv: Conversation) -> str | None:
        """The agent connected to the conversation's task now."""
        it = self.service.router.interactions.get(conv.task_id or "")
        if it is None or it.stage is not Stage.CONNECTED:
            return None
        return str(it.agent_id) if it.agent_id is not None else None

    def state(self, task_id: str | None) -> dict[str, Any]:
        it = self.service.router.interactions.get(task_id or "")
        if it is None or task_id not in self.by_task:
            return {"type": "state", "status": "ended"}
        if it.stage is Stage.CONNECTED:
            return {"type": "state", "status": "connected", "agent": it.agent_id}
        if it.stage is Stage.WAITING:
            position, ewt = self._waiting_figures(it.queue.name, it.id)
            return {
                "type": "state",
                "status": "waiting",
                "position": position,
                "expected_wait_s": rounded(ewt),
            }
        return {"type": "state", "status": "offered"}

    def _waiting_figures(self, queue: str, task_id: str) -> tuple[int | None, float | None]:
        """Place and expected wait, read for the whole queue at most every FIGURES_TTL_S:
        every waiting customer's page asks every few seconds, and asking the router one by
        one costs a sort of the queue each time (thousands of pages: seconds of CPU)."""
        now = self.service.clock()
        cached = self._figures.get(queue)
        if cached is None or now - cached[0] >= FIGURES_TTL_S:
            places = {w.id: n for n, w in enumerate(self.service.router.waiting_in(queue), start=1)}
            cached = (now, places, self.estimator.expected_waits(now))
            self._figures[queue] = cached
        _, places, waits = cached
        if task_id not in places:
            # Joined since the figures were read: its own, exactly.
            return self.service.router.position(task_id), self.estimator.expected_wait(task_id, now)
        return places[task_id], waits.get(task_id)

    async def _route(
        self,
        conv: Conversation,
        task_id: str,
        body: str,
        *,
        subject: str = "",
        attributes: Mapping[str, str] | None = None,
        prefer_agent: str | None = None,
        prefer_wait_s: float | None = None,
    ) -> str:
        attrs = {**(attributes or {}), "conversation_id": conv.id}
        sub = TaskSubmission(
            task_id=task_id,
            channel=Channel(conv.channel),
            queue=conv.queue,
            customer=conv.customer,
            subject=subject or conv.subject,
            body=body[:100_000],
            attributes=attrs,
            prefer_agent=prefer_agent,
            prefer_wait_s=prefer_wait_s if prefer_agent else None,
        )
        # Known before it is routed: the core may offer it inside submit().
        self.by_task[task_id] = conv.id
        try:
            if conv.task_id != task_id:
                await self.store.set(conv.id, task_id=task_id)
            await self.intake.submit(sub, conv.channel)
        except Exception:
            self.by_task.pop(task_id, None)
            await self.store.set(conv.id, task_id=None)
            raise
        return task_id

    def _publish_message(self, msg: Message) -> None:
        self.feed.publish(msg.conversation_id, {"type": "message", **msg.public()})

    # ------------------------------------------------------------ web chat

    def topic(self, name: str) -> ChatTopic:
        for t in self.settings.chat.topics:
            if t.name == name:
                return t
        raise TaskError(422, f"unknown topic {name!r}")

    async def start_chat(self, topic_name: str, name: str, text: str) -> tuple[Conversation, str]:
        topic = self.topic(topic_name)
        token = secrets.token_urlsafe(32)
        task_id = new_task_id(str(Channel.CHAT))
        # One SQL transaction (conversation, task id, first message), then the task's own
        # insert: a start holds a pooled connection for as little as it can.
        conv = await self.store.create(
            f"chat-{uuid.uuid4().hex}",
            str(Channel.CHAT),
            topic.queue,
            name or "web visitor",
            subject=topic.label or topic.name,
            thread_key="",
            token=token,
            attributes={"topic": topic.name},
            task_id=task_id,
            first=text,
        )
        await self._route(conv, task_id, text, attributes={"topic": topic.name})
        if task_id in self.by_task:
            hashed = token_hash(token)
            self._live_chats[hashed] = conv
            self._chat_tokens[conv.id] = hashed
        log.info("chat_started", conversation_id=conv.id, queue=conv.queue, topic=topic.name)
        return conv, token

    async def chat_by_token(self, token: str) -> Conversation | None:
        conv = self._live_chats.get(token_hash(token))
        return conv if conv is not None else await self.store.by_token(token)

    async def conversation(self, conv_id: str) -> Conversation | None:
        """For the agent's requests: a routed chat from memory, anything else from SQL."""
        conv = self._live_chats.get(self._chat_tokens.get(conv_id, ""))
        return conv if conv is not None else await self.store.get(conv_id)

    async def customer_says(self, conv: Conversation, text: str) -> Message:
        if conv.status != "open" or conv.task_id not in self.by_task:
            raise TaskError(409, "this conversation has ended; start a new one")
        msg = await self.store.add_message(conv.id, "in", "customer", text, task_id=conv.task_id)
        self._publish_message(msg)
        return msg

    def customer_left(self, conv: Conversation) -> None:
        """Leaving before an agent answered is an abandon (the core records its wait)."""
        task_id = conv.task_id
        if task_id is None or task_id not in self.by_task:
            return
        it = self.service.router.interactions.get(task_id)
        if it is None:
            return
        if it.stage is Stage.CONNECTED:
            self.feed.publish(conv.id, {"type": "state", "status": "customer_left"})
            self._spawn(self._note(conv.id, task_id, "the customer left the chat"))
            return
        self.service.submit(ev.InteractionAbandoned(task_id))
        log.info("chat_abandoned", conversation_id=conv.id, task_id=task_id)

    async def _note(self, conv_id: str, task_id: str, text: str) -> None:
        self._publish_message(await self.store.add_message(conv_id, "in", "system", text, task_id=task_id))

    def page_opened(self, conv_id: str) -> None:
        timer = self._leave_timers.pop(conv_id, None)
        if timer is not None:
            timer.cancel()

    def page_closed(self, conv: Conversation, watchers_left: int) -> None:
        """The customer's page went away; a reload comes back within the grace."""
        if watchers_left > 0 or conv.task_id not in self.by_task:
            return
        self.page_opened(conv.id)
        loop = asyncio.get_running_loop()

        def gone() -> None:
            self._leave_timers.pop(conv.id, None)
            it = self.service.router.interactions.get(conv.task_id or "")
            if it is not None and it.stage is not Stage.CONNECTED:
                self.customer_left(conv)

        self._leave_timers[conv.id] = loop.call_later(self.settings.chat.leave_grace_s, gone)

    def typing(self, conv: Conversation, who: str) -> None:
        """A typing notice to whoever watches the chat: live only, never stored."""
        if conv.channel == str(Channel.CHAT) and conv.task_id in self.by_task:
            self.feed.publish(conv.id, {"type": "typing", "author": who})

    # ------------------------------------------------------------ agent replies

    async def agent_says(self, conv: Conversation, agent_id: str, text: str) -> Message:
        if self.holder(conv) != agent_id:
            raise TaskError(409, f"conversation {conv.id} is not held by agent {agent_id}")
        if conv.channel == str(Channel.EMAIL):
            if self.email_out is None:
                raise TaskError(503, "no SMTP server is configured for e-mail replies")
            thread = [m.external_id for m in await self.store.messages(conv.id) if m.external_id]
            try:
                sent_id = await self.email_out(conv, text, thread)
            except Exception as e:
                log.warning("email_reply_failed", conversation_id=conv.id, error=f"{type(e).__name__}: {e}")
                raise TaskError(502, f"the mail server did not take the reply: {type(e).__name__}") from None
            msg = await self.store.add_message(
                conv.id, "out", agent_id, text, task_id=conv.task_id, external_id=sent_id
            )
        elif conv.channel == str(Channel.SMS):
            if self.sms_out is None:
                raise TaskError(503, "no Asterisk node is connected for SMS replies")
            try:
                parts = await self.sms_out(conv, text)
            except Exception as e:
                log.warning("sms_reply_failed", conversation_id=conv.id, error=f"{type(e).__name__}: {e}")
                raise TaskError(502, f"Asterisk did not send the SMS: {e}") from None
            msg = await self.store.add_message(conv.id, "out", agent_id, text, task_id=conv.task_id)
            log.info("sms_conversation_reply", conversation_id=conv.id, parts=parts)
        else:
            msg = await self.store.add_message(conv.id, "out", agent_id, text, task_id=conv.task_id)
        self._publish_message(msg)
        return msg

    # ------------------------------------------------------------ e-mail and SMS in

    async def email_in(self, mail: InboundMail, box: MailboxConfig) -> str | None:
        """Store one fetched e-mail; returns its conversation id (None: a duplicate)."""
        if mail.message_id and await self.store.has_external_id(mail.message_id):
            return None
        conv = await self.store.by_external_ids(mail.thread_ids)
        if conv is None:
            conv = await self.store.create(
                f"email-{uuid.uuid4().hex}",
                str(Channel.EMAIL),
                mail_queue(mail, box),
                mail.sender,
                subject=mail.subject,
                thread_key=mail.sender,
                attributes={"mailbox": box.name, "customer_name": mail.sender_name},
            )
        held = conv.task_id in self.by_task
        task_id = conv.task_id if held else new_task_id(conv.channel)
        msg = await self.store.add_message(
            conv.id,
            "in",
            "customer",
            mail.body,
            task_id=task_id,
            external_id=mail.message_id or None,
            attachments=mail.attachments,
        )
        if held:
            self._publish_message(msg)
        else:
            await self._route(
                conv,
                task_id or "",
                mail.body,
                subject=mail.subject,
                attributes={
                    "from": mail.sender,
                    "mailbox": box.name,
                    "attachments": str(len(mail.attachments)),
                },
                # The customer's answer: first to the agent who served the thread, if configured.
                prefer_agent=conv.agent_id if box.same_agent_first_s > 0 else None,
                prefer_wait_s=box.same_agent_first_s,
            )
        log.info("email_received", conversation_id=conv.id, mailbox=box.name, threaded=held)
        return conv.id

    async def sms_in(self, sub: TaskSubmission, sender: str, msg_attrs: Mapping[str, str]) -> str:
        """An SMS that matched no campaign: joins the subscriber's open conversation on that
        service number, or starts one. Returns the task id now serving it."""
        key = f"{sub.customer}|{msg_attrs.get('number', '')}"
        # `message_id` is one per CCRMessage event (`omni.asterisk_glue.message_ref`), kept
        # with the message; no de-duplication by it: an SMS is not retransmitted after the 202.
        external = msg_attrs.get("message_id") or None
        conv = await self.store.open_thread(str(Channel.SMS), key)
        if conv is None:
            conv = await self.store.create(
                f"sms-{uuid.uuid4().hex}",
                str(Channel.SMS),
                sub.queue,
                sub.customer,
                thread_key=key,
                attributes={"sender": sender, **msg_attrs},
            )
        held = conv.task_id in self.by_task
        task_id = (conv.task_id if held else None) or new_task_id(conv.channel)
        msg = await self.store.add_message(
            conv.id,
            "in",
            "customer",
            sub.body,
            task_id=task_id,
            external_id=f"sms:{external}" if external else None,
        )
        if held:
            self._publish_message(msg)
            return task_id
        return await self._route(conv, task_id, sub.body, attributes=sub.attributes)

    async def purge(self) -> int:
        n = await self.store.purge(self.settings.retention_days)
        if n:
            log.info("conversations_purged", count=n, retention_days=self.settings.retention_days)
        return n


def new_task_id(channel: str) -> str:
    return f"{channel}-{uuid.uuid4().hex[:24]}"


def mail_queue(mail: InboundMail, box: MailboxConfig) -> str:
    to = " ".join(mail.to).lower()
    for rule in box.rules:
        if rule.to_contains and rule.to_contains.lower() not in to:
            continue
        if rule.subject_contains and rule.subject_contains.lower() not in mail.subject.lower():
            continue
        return rule.queue
    return box.queue


__all__ = ["Attachment", "ConversationHub", "mail_queue"]
