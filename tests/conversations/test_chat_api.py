"""Web chat over the HTTP API: start, queue place, accept, both ways, transcript, limits,
who may read, and the abandon of a customer who goes away."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import select

from cc_router.conversations.tables import conversations, messages
from cc_router.core import commands as cmd
from cc_router.core.vocabulary import Outcome
from cc_router.store.omni_tables import tasks

from .conftest import AUTH, Running

pytestmark = pytest.mark.asyncio


async def start(client: httpx.AsyncClient, text: str = "我的账单有问题") -> tuple[str, dict[str, str], str]:
    r = await client.post("/chat/api/start", json={"topic": "billing", "name": "王芳", "text": text})
    assert r.status_code == 201, r.text
    d = r.json()
    return d["conversation_id"], {"X-Chat-Token": d["token"]}, d["status"]


async def test_chat_both_ways_with_transcript_in_sql(chat_centre: tuple[httpx.AsyncClient, Running]) -> None:
    client, run = chat_centre
    conv_id, me, status = await start(client)
    assert status == "waiting"
    r = await client.get("/chat/api/conversation", headers=me)
    # Nobody who could answer is logged in: a place, but no expected wait to promise.
    assert r.json()["state"] == {"type": "state", "status": "waiting", "position": 1, "expected_wait_s": None}
    conv = await run.conv.hub.store.get(conv_id)
    assert conv is not None and conv.task_id is not None
    task_id = conv.task_id

    run.login("a1")
    [offer] = run.omni.board.pending("a1")
    assert offer.task_id == task_id and offer.task["body"] == "我的账单有问题"
    # Offered is not held: the agent cannot answer yet.
    r = await client.post(
        f"/api/conversations/{conv_id}/messages", json={"agent_id": "a1", "text": "x"}, headers=AUTH
    )
    assert r.status_code == 409
    r = await client.post(f"/api/tasks/{task_id}/accept", json={"agent_id": "a1"}, headers=AUTH)
    assert r.status_code == 200, r.text

    r = await client.post(
        f"/api/conversations/{conv_id}/messages", json={"agent_id": "a1", "text": "您好，请讲"}, headers=AUTH
    )
    assert r.status_code == 201, r.text
    r = await client.post(
        "/chat/api/messages", json={"text": "<img src=x onerror=alert(1)> 谢谢"}, headers=me
    )
    assert r.status_code == 201
    r = await client.get("/chat/api/conversation", headers=me)
    got = r.json()
    assert got["state"] == {"type": "state", "status": "connected", "agent": "a1"}
    assert [(m["author"], m["body"]) for m in got["messages"]] == [
        ("customer", "我的账单有问题"),
        ("a1", "您好，请讲"),
        ("customer", "<img src=x onerror=alert(1)> 谢谢"),
    ]
    r = await client.get(f"/api/tasks/{task_id}/conversation", headers=AUTH)
    assert r.status_code == 200 and r.json()["holder"] == "a1" and len(r.json()["messages"]) == 3

    r = await client.post(
        f"/api/tasks/{task_id}/complete", json={"agent_id": "a1", "disposition": "solved"}, headers=AUTH
    )
    assert r.status_code == 200
    await run.conv.hub.drain()
    r = await client.post("/chat/api/messages", json={"text": "还在吗"}, headers=me)
    assert r.status_code == 409 and "ended" in r.json()["error"]

    async with run.omni.engine.connect() as c:
        m = messages.c
        q = (
            select(m.direction, m.author, m.body, m.task_id)
            .where(m.conversation_id == conv_id)
            .order_by(m.id)
        )
        rows = (await c.execute(q)).all()
        row = (await c.execute(select(conversations).where(conversations.c.id == conv_id))).one()
    assert [(d, a) for d, a, _, _ in rows] == [("in", "customer"), ("out", "a1"), ("in", "customer")]
    assert {t for *_, t in rows} == {task_id}
    assert row.status == "closed" and row.agent_id == "a1" and row.closed_at is not None
    assert row.token_hash and len(row.token_hash) == 64  # the token itself is not stored


async def test_who_may_read_and_write(chat_centre: tuple[httpx.AsyncClient, Running]) -> None:
    client, run = chat_centre
    conv_id, me, _ = await start(client)
    run.login("a1", "a2")
    conv = await run.conv.hub.store.get(conv_id)
    assert conv is not None
    holder = run.omni.board.by_task[conv.task_id or ""]
    offer = run.omni.board.by_offer[next(iter(holder))]
    other = "a2" if offer.agent_id == "a1" else "a1"
    await client.post(f"/api/tasks/{conv.task_id}/accept", json={"agent_id": offer.agent_id}, headers=AUTH)

    assert (await client.get(f"/api/conversations/{conv_id}")).status_code == 401
    assert (
        await client.get(f"/api/conversations/{conv_id}", headers={"Authorization": "Bearer no"})
    ).status_code == 401
    assert (await client.get(f"/api/conversations/{conv_id}", headers=AUTH)).status_code == 200
    r = await client.post(
        f"/api/conversations/{conv_id}/messages", json={"agent_id": offer.agent_id, "text": "hi"}
    )
    assert r.status_code == 401
    r = await client.post(
        f"/api/conversations/{conv_id}/messages", json={"agent_id": other, "text": "hi"}, headers=AUTH
    )
    assert r.status_code == 409 and "not held by agent" in r.json()["error"]
    # A customer token opens its own conversation only, never the agent API.
    assert (await client.get("/chat/api/conversation", headers={"X-Chat-Token": "guess"})).status_code == 401
    r = await client.get(
        f"/api/conversations/{conv_id}", headers={"Authorization": f"Bearer {me['X-Chat-Token']}"}
    )
    assert r.status_code == 401


async def test_customer_input_limits(chat_centre: tuple[httpx.AsyncClient, Running]) -> None:
    client, _ = chat_centre
    _, me, _ = await start(client, text="")
    r = await client.post("/chat/api/messages", json={"text": "字" * 201}, headers=me)
    assert r.status_code == 413 and "longer than 200 characters" in r.json()["error"]
    r = await client.post("/chat/api/messages", json={"text": "   "}, headers=me)
    assert r.status_code == 422
    r = await client.post("/chat/api/messages", content=b"{nope", headers=me)
    assert r.status_code == 400
    codes = [
        (await client.post("/chat/api/messages", json={"text": f"m{i}"}, headers=me)).status_code
        for i in range(6)
    ]
    assert codes[:3] == [201, 201, 201] and codes[-1] == 429
    r = await client.post("/chat/api/messages", json={"text": "again"}, headers=me)
    assert "try again in" in r.json()["error"]
    r = await client.post("/chat/api/start", json={"topic": "nope"})
    assert r.status_code == 422 and "unknown topic" in r.json()["error"]


async def test_new_chats_are_limited_per_address(chat_centre: tuple[httpx.AsyncClient, Running]) -> None:
    client, run = chat_centre
    # The first message of a start is held to the same size limit as any other.
    r = await client.post("/chat/api/start", json={"topic": "billing", "text": "字" * 201})
    assert r.status_code == 413
    before = len(run.conv.hub.by_task)
    # starts_per_minute (10 by default) with a burst of half of it, per client address.
    codes = [
        (await client.post("/chat/api/start", json={"topic": "billing", "text": f"第{i}次"})).status_code
        for i in range(6)
    ]
    assert codes[:4] == [201] * 4 and codes[-1] == 429
    r = await client.post("/chat/api/start", json={"topic": "billing", "text": "再试"})
    assert r.status_code == 429 and "new chats from this address" in r.json()["error"]
    assert len(run.conv.hub.by_task) - before == codes.count(201)  # a refused start routes nothing


async def test_pages_carry_a_strict_csp(chat_centre: tuple[httpx.AsyncClient, Running]) -> None:
    client, _ = chat_centre
    r = await client.get("/chat")
    assert r.status_code == 200 and "script-src 'self'" in r.headers["content-security-policy"]
    assert "unsafe-inline" not in r.headers["content-security-policy"]
    js = (await client.get("/chat/chat.js")).text
    assert "innerHTML" not in js and "textContent" in js
    assert (await client.get("/chat/widget.js")).status_code == 200


async def test_customer_who_leaves_is_an_abandon(chat_centre: tuple[httpx.AsyncClient, Running]) -> None:
    client, run = chat_centre
    finished: list[cmd.InteractionFinished] = []
    run.service.sinks.append(
        lambda out, _now: finished.extend(c for c in out if isinstance(c, cmd.InteractionFinished))
    )
    conv_id, me, _ = await start(client)
    conv = await run.conv.hub.store.get(conv_id)
    assert conv is not None and conv.task_id is not None
    await asyncio.sleep(0.2)
    r = await client.post("/chat/api/leave", headers=me)
    assert r.status_code == 200
    assert conv.task_id not in run.service.router.interactions
    [done] = finished
    assert done.interaction_id == conv.task_id and done.outcome is Outcome.ABANDONED
    assert 0.2 <= done.wait_s < 5  # the wait it had, counted as the abandon's
    await run.conv.hub.drain()
    await run.omni.store.flush()
    async with run.omni.engine.connect() as c:
        t = (
            await c.execute(
                select(tasks.c.status, tasks.c.disposition).where(tasks.c.task_id == conv.task_id)
            )
        ).one()
    assert t.status == "exited" and t.disposition == "abandoned"


async def test_page_gone_past_the_grace_abandons(chat_centre: tuple[httpx.AsyncClient, Running]) -> None:
    client, run = chat_centre
    conv_id, _, _ = await start(client)
    conv = await run.conv.hub.store.get(conv_id)
    assert conv is not None
    run.conv.hub.page_closed(conv, 0)
    await asyncio.sleep(0.1)
    run.conv.hub.page_opened(conv_id)  # a reload within the grace keeps the place
    await asyncio.sleep(0.4)
    assert conv.task_id in run.service.router.interactions
    run.conv.hub.page_closed(conv, 0)
    await asyncio.sleep(0.5)
    assert conv.task_id not in run.service.router.interactions


async def test_a_waiting_customer_sees_place_and_expected_wait(
    chat_centre: tuple[httpx.AsyncClient, Running],
) -> None:
    client, run = chat_centre
    run.login("a1")
    for n in range(2):  # a1 takes two chats at once: both accepted, a1 is full
        conv_id, _, _ = await start(client, text=f"第{n}个")
        conv = await run.conv.hub.store.get(conv_id)
        assert conv is not None
        r = await client.post(f"/api/tasks/{conv.task_id}/accept", json={"agent_id": "a1"}, headers=AUTH)
        assert r.status_code == 200, r.text
    _, me, status = await start(client, text="我在排队")
    assert status == "waiting"
    state = (await client.get("/chat/api/conversation", headers=me)).json()["state"]
    assert state["position"] == 1
    assert isinstance(state["expected_wait_s"], float) and state["expected_wait_s"] > 0


async def test_typing_notices_reach_the_other_side_and_are_not_stored(
    chat_centre: tuple[httpx.AsyncClient, Running],
) -> None:
    client, run = chat_centre
    conv_id, me, _ = await start(client)
    run.login("a1")
    conv = await run.conv.hub.store.get(conv_id)
    assert conv is not None
    await client.post(f"/api/tasks/{conv.task_id}/accept", json={"agent_id": "a1"}, headers=AUTH)
    with run.conv.hub.feed.watch(conv_id) as q:
        assert (await client.post("/chat/api/typing", headers=me)).status_code == 200
        assert q.get_nowait() == {"type": "typing", "author": "customer"}
        r = await client.post(f"/api/conversations/{conv_id}/typing", json={"agent_id": "a1"}, headers=AUTH)
        assert r.status_code == 200
        assert q.get_nowait() == {"type": "typing", "author": "a1"}
        r = await client.post(f"/api/conversations/{conv_id}/typing", json={"agent_id": "a2"}, headers=AUTH)
        assert r.status_code == 403 and q.empty()
        assert (await client.post("/chat/api/typing")).status_code == 401
    assert len(await run.conv.hub.store.messages(conv_id)) == 1  # only the first text


async def test_a_routed_chat_is_found_without_sql_by_customer_and_agent(
    chat_centre: tuple[httpx.AsyncClient, Running],
) -> None:
    from sqlalchemy import event

    client, run = chat_centre
    conv_id, me, _ = await start(client)
    statements: list[str] = []

    def seen(conn: object, cursor: object, statement: str, *_: object) -> None:
        words = statement.replace('"', "").split()
        table = next((w for w in words if w in ("conversations", "messages")), None)
        if table is not None:  # not the task store's own writes meanwhile
            statements.append(f"{words[0].upper()} {table}")

    engine = run.omni.engine.sync_engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        r = await client.post("/chat/api/messages", json={"text": "在吗"}, headers=me)
        assert r.status_code == 201
        assert statements == ["INSERT messages"]  # the message; no SELECT to find the conversation
        run.login("a1")
        task_id = next(t for t, c in run.conv.hub.by_task.items() if c == conv_id)
        r = await client.post(f"/api/tasks/{task_id}/accept", json={"agent_id": "a1"}, headers=AUTH)
        assert r.status_code == 200
        await run.conv.hub.drain()
        statements.clear()
        r = await client.post(
            f"/api/conversations/{conv_id}/messages", json={"agent_id": "a1", "text": "您好"}, headers=AUTH
        )
        assert r.status_code == 201
        assert statements == ["INSERT messages"]  # and the agent's reply neither
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    # Once the chat has ended the token still opens its transcript, from SQL.
    r = await client.post(f"/api/tasks/{task_id}/complete", json={"agent_id": "a1"}, headers=AUTH)
    assert r.status_code == 200
    await run.conv.hub.drain()
    r = await client.get("/chat/api/conversation", headers=me)
    assert r.status_code == 200 and r.json()["state"]["status"] == "ended"
    assert [m["body"] for m in r.json()["messages"]] == ["我的账单有问题", "在吗", "您好"]
    r = await client.post("/chat/api/messages", json={"text": "喂"}, headers=me)
    assert r.status_code == 409 and (await run.conv.hub.store.get(conv_id)) is not None


async def test_follow_up_writes_are_retried_when_the_store_refuses(
    chat_centre: tuple[httpx.AsyncClient, Running], monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy.exc import OperationalError

    client, run = chat_centre
    hub = run.conv.hub
    conv_id, _, _ = await start(client)
    store_set = hub.store.set
    refused: list[dict[str, object]] = []

    async def flaky(cid: str, **values: object) -> None:
        if len(refused) < 2:  # the store refuses the first two writes, as one restarting would
            refused.append(values)
            raise OperationalError("UPDATE conversations", {}, Exception("server closed the connection"))
        await store_set(cid, **values)

    monkeypatch.setattr(hub.store, "set", flaky)
    run.login("a1")
    conv = await hub.store.get(conv_id)
    assert conv is not None
    r = await client.post(f"/api/tasks/{conv.task_id}/accept", json={"agent_id": "a1"}, headers=AUTH)
    assert r.status_code == 200
    r = await client.post(f"/api/tasks/{conv.task_id}/complete", json={"agent_id": "a1"}, headers=AUTH)
    assert r.status_code == 200
    async with asyncio.timeout(10):
        await hub.drain()
    assert refused  # the writes were refused at first ...
    stored = await hub.store.get(conv_id)  # ... and then stored: who served it, and its end
    assert stored is not None and stored.agent_id == "a1" and stored.status == "closed"
