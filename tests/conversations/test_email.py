"""E-mail through a real Dovecot (IMAP, LMTP) and an SMTP relay: a customer's mail becomes
an interaction, the agent's reply reaches the customer's mailbox with threading headers,
and the customer's answer comes back to the same conversation."""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import imaplib
from collections.abc import AsyncIterator
from email.message import EmailMessage

import httpx
import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine

from cc_router.testing.live import wait_until

from .conftest import AUTH, Running, centre_config, running
from .mailserver import PASSWORD, MailServer, dovecot, smtp_relay

pytestmark = pytest.mark.asyncio
SUPPORT, CUSTOMER = "support@example.test", "wang.fang@example.test"


def mailbox_yaml(imap_port: int, smtp_port: int, box_extra: str = "", poll_s: float = 5) -> str:
    return f"""
conversations:
  smtp: {{host: 127.0.0.1, port: {smtp_port}, starttls: false}}
  mailboxes:
    - name: support
      address: {SUPPORT}
      imap_host: 127.0.0.1
      imap_port: {imap_port}
      imap_tls: false
      username: {SUPPORT}
      password: {PASSWORD}
      queue: email_service
      poll_s: {poll_s}
{box_extra}"""


@contextlib.asynccontextmanager
async def mail_centre(
    engine: AsyncEngine, box_extra: str = "", dovecot_extra: str = "", poll_s: float = 5
) -> AsyncIterator[tuple[MailServer, httpx.AsyncClient, Running]]:
    with dovecot([SUPPORT, CUSTOMER], dovecot_extra) as server, smtp_relay(server) as (smtp_port, _):
        config = centre_config(mailbox_yaml(server.imap_port, smtp_port, box_extra, poll_s))
        async with running(config, engine) as run:
            [reader] = run.conv.readers
            run.tasks.append(asyncio.create_task(reader.run()))
            await asyncio.wait_for(reader.connected.wait(), 10)
            app = run.http.app  # type: ignore[union-attr]
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://t"
            ) as client:
                yield server, client, run


@pytest_asyncio.fixture
async def mail(sqlite_engine: AsyncEngine) -> AsyncIterator[tuple[MailServer, httpx.AsyncClient, Running]]:
    async with mail_centre(sqlite_engine) as env:
        yield env


def customer_inbox(server: MailServer) -> list[EmailMessage]:
    imap = imaplib.IMAP4("127.0.0.1", server.imap_port)
    try:
        imap.login(CUSTOMER, PASSWORD)
        imap.select("INBOX")
        _, data = imap.search(None, "ALL")
        out = []
        for num in data[0].split():
            _, parts = imap.fetch(num, "(RFC822)")
            raw = parts[0][1]
            assert isinstance(raw, bytes)
            msg = email.message_from_bytes(raw, policy=email.policy.default)
            assert isinstance(msg, EmailMessage)
            out.append(msg)
        return out
    finally:
        imap.logout()


async def offered(run: Running, agent: str, exclude: set[str]) -> str:
    await wait_until(
        lambda: any(o.task_id not in exclude for o in run.omni.board.pending(agent)), 15, "e-mail offer"
    )
    return next(o.task_id for o in run.omni.board.pending(agent) if o.task_id not in exclude)


async def test_mail_in_reply_out_and_the_answer_threads_back(
    mail: tuple[MailServer, httpx.AsyncClient, Running],
) -> None:
    server, client, run = mail
    [reader] = run.conv.readers
    assert reader.idle_used  # Dovecot offers IDLE: new mail wakes the reader
    run.login("a1")

    first = EmailMessage()
    first["From"] = f"王芳 <{CUSTOMER}>"
    first["To"] = SUPPORT
    first["Subject"] = "发票没有收到"
    first["Message-ID"] = "<q1.wangfang@example.test>"
    first.set_content("你好，我上个月的发票没有收到。\n谢谢")
    first.add_attachment(b"%PDF-1.4 order 1234", maintype="application", subtype="pdf", filename="订单.pdf")
    await asyncio.to_thread(server.deliver, first, SUPPORT)

    task1 = await offered(run, "a1", set())
    r = await client.post(f"/api/tasks/{task1}/accept", json={"agent_id": "a1"}, headers=AUTH)
    assert r.status_code == 200
    conv = (await client.get(f"/api/tasks/{task1}/conversation", headers=AUTH)).json()
    assert conv["channel"] == "email" and conv["customer"] == CUSTOMER and conv["subject"] == "发票没有收到"
    [m1] = conv["messages"]
    assert m1["body"].startswith("你好，我上个月的发票没有收到。")
    [att] = m1["attachments"]
    assert att["filename"] == "订单.pdf" and att["size"] == len(b"%PDF-1.4 order 1234")
    got = await client.get(att["url"], headers=AUTH)
    assert got.content == b"%PDF-1.4 order 1234" and got.headers["content-type"] == "application/octet-stream"
    assert (await client.get(att["url"])).status_code == 401

    r = await client.post(
        f"/api/conversations/{conv['conversation_id']}/messages",
        json={"agent_id": "a1", "text": "王女士您好，发票已重新寄出。"},
        headers=AUTH,
    )
    assert r.status_code == 201, r.text
    await wait_until(lambda: bool(customer_inbox(server)), 10, "reply in the customer's mailbox")
    [reply] = customer_inbox(server)
    assert reply["In-Reply-To"] == "<q1.wangfang@example.test>"
    assert "<q1.wangfang@example.test>" in reply["References"]
    assert reply["Subject"] == "Re: 发票没有收到" and reply["From"] == SUPPORT
    assert "发票已重新寄出" in reply.get_content()
    r = await client.post(f"/api/tasks/{task1}/complete", json={"agent_id": "a1"}, headers=AUTH)
    assert r.status_code == 200
    await run.conv.hub.drain()

    answer = EmailMessage()
    answer["From"] = f"王芳 <{CUSTOMER}>"
    answer["To"] = SUPPORT
    answer["Subject"] = "Re: 发票没有收到"
    answer["Message-ID"] = "<q2.wangfang@example.test>"
    answer["In-Reply-To"] = reply["Message-ID"]
    answer["References"] = f"{reply['References']} {reply['Message-ID']}"
    answer.set_content("收到了，谢谢！")
    await asyncio.to_thread(server.deliver, answer, SUPPORT)

    task2 = await offered(run, "a1", {task1})
    again = (await client.get(f"/api/tasks/{task2}/conversation", headers=AUTH)).json()
    assert again["conversation_id"] == conv["conversation_id"]
    assert [(m["author"], m["body"].strip()) for m in again["messages"]] == [
        ("customer", "你好，我上个月的发票没有收到。\n谢谢"),
        ("a1", "王女士您好，发票已重新寄出。"),
        ("customer", "收到了，谢谢！"),
    ]
    assert reader.taken == 2


async def test_the_same_mail_twice_is_one_message(
    mail: tuple[MailServer, httpx.AsyncClient, Running],
) -> None:
    server, _, run = mail
    msg = EmailMessage()
    msg["From"] = CUSTOMER
    msg["To"] = SUPPORT
    msg["Subject"] = "twice"
    msg["Message-ID"] = "<dup@example.test>"
    msg.set_content("once")
    await asyncio.to_thread(server.deliver, msg, SUPPORT)
    await asyncio.to_thread(server.deliver, msg, SUPPORT)
    [reader] = run.conv.readers
    await wait_until(lambda: reader.taken == 2, 15, "both copies read")
    assert len(run.conv.hub.by_task) == 1


def mail_to_support(subject: str, body: str, mid: str, answers: EmailMessage | None = None) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = f"王芳 <{CUSTOMER}>"
    msg["To"] = SUPPORT
    msg["Subject"] = subject
    msg["Message-ID"] = mid
    if answers is not None:
        msg["In-Reply-To"] = answers["Message-ID"]
        msg["References"] = f"{answers['References'] or ''} {answers['Message-ID']}".strip()
    msg.set_content(body)
    return msg


async def test_the_answer_goes_first_to_the_agent_who_replied(sqlite_engine: AsyncEngine) -> None:
    async with mail_centre(sqlite_engine, box_extra="      same_agent_first_s: 30\n") as (
        server,
        client,
        run,
    ):
        run.login("a1", "a2")
        await asyncio.to_thread(
            server.deliver, mail_to_support("退款", "请退款", "<r1@example.test>"), SUPPORT
        )
        await wait_until(lambda: len(run.omni.board.by_task) == 1, 15, "e-mail offer")
        [task1] = run.omni.board.by_task
        agent = next(a for a in ("a1", "a2") if any(o.task_id == task1 for o in run.omni.board.pending(a)))
        other = "a2" if agent == "a1" else "a1"
        assert (
            await client.post(f"/api/tasks/{task1}/accept", json={"agent_id": agent}, headers=AUTH)
        ).is_success
        conv = (await client.get(f"/api/tasks/{task1}/conversation", headers=AUTH)).json()
        r = await client.post(
            f"/api/conversations/{conv['conversation_id']}/messages",
            json={"agent_id": agent, "text": "已为您办理退款。"},
            headers=AUTH,
        )
        assert r.status_code == 201, r.text
        await wait_until(lambda: bool(customer_inbox(server)), 10, "reply in the customer's mailbox")
        [reply] = customer_inbox(server)
        assert (
            await client.post(f"/api/tasks/{task1}/complete", json={"agent_id": agent}, headers=AUTH)
        ).is_success
        await run.conv.hub.drain()

        # The other agent has been free longest and would be next; the answer goes to `agent`.
        answer = mail_to_support("Re: 退款", "谢谢，收到了", "<r2@example.test>", answers=reply)
        await asyncio.to_thread(server.deliver, answer, SUPPORT)
        task2 = await offered(run, agent, {task1})
        assert not run.omni.board.pending(other)
        again = (await client.get(f"/api/tasks/{task2}/conversation", headers=AUTH)).json()
        assert again["conversation_id"] == conv["conversation_id"]
        assert run.service.router.interactions[task2].queue.name == "email_service"


NO_IDLE = "imap_capability = IMAP4rev1 LITERAL+ SASL-IR LOGIN-REFERRALS ID ENABLE AUTH=PLAIN AUTH=LOGIN\n"


async def test_a_server_without_idle_is_polled(sqlite_engine: AsyncEngine) -> None:
    async with mail_centre(sqlite_engine, dovecot_extra=NO_IDLE, poll_s=0.5) as (server, _, run):
        [reader] = run.conv.readers
        assert not reader.idle_used
        await asyncio.to_thread(
            server.deliver, mail_to_support("轮询", "没有 IDLE 也能收到", "<p1@example.test>"), SUPPORT
        )
        await wait_until(lambda: reader.taken == 1, 10, "the polled mail taken")
        assert len(run.conv.hub.by_task) == 1
