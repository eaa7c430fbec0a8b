"""Commands over the real Mosquitto with a login's session token: an agent acts on itself
only; a caller's priority needs a supervisor whose scope covers the queue; the machine
token still acts on anyone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from cc_router.accounts.attach import install
from cc_router.accounts.book import AccountBook
from cc_router.accounts.users import add_user
from cc_router.core import events as ev
from cc_router.store import migrate
from tests.mqtt.conftest import API_TOKEN, Running, clear_retained, running, watcher
from tests.mqtt.test_mqtt import latest

pytestmark = [pytest.mark.mqtt, pytest.mark.asyncio]


async def _book(r: Running, tmp_path: Path) -> AccountBook:
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'acc.db'}")
    await migrate(engine)
    await add_user(engine, "chen", "agent", "password-1", agent_id="1001")
    await add_user(engine, "screen", "viewer", "password-1")
    book = install(r.service, AccountBook(engine, r.service.config.accounts))
    await book.refresh()
    return book


async def test_session_token_acts_on_own_agent_only(prefix: str, tmp_path: Path) -> None:
    async with running(prefix) as r:
        await r.connected()
        book = await _book(r, tmp_path)
        chen = (await book.login("chen", "password-1", "127.0.0.1")).token
        screen = (await book.login("screen", "password-1", "127.0.0.1")).token
        assert chen and screen
        async with watcher(prefix) as w:
            await w.send(
                r.topic("agents/1001/command"), {"action": "login", "token": chen, "request_id": "a"}
            )
            res = await w.wait_for(lambda: latest(w, r.topic("agents/1001/result")), what="own login")
            assert res["ok"] is True and res["state"] == "ready"

            await w.send(
                r.topic("agents/1002/command"), {"action": "login", "token": chen, "request_id": "b"}
            )
            res = await w.wait_for(lambda: latest(w, r.topic("agents/1002/result")), what="other's login")
            assert res["ok"] is False and "may not act on agent 1002" in res["error"]
            assert str(r.service.router.agents["1002"].state) == "logged_out"

            await w.send(
                r.topic("agents/1002/command"), {"action": "login", "token": screen, "request_id": "c"}
            )
            res = await w.wait_for(
                lambda: (x := latest(w, r.topic("agents/1002/result"))) and x["request_id"] == "c" and x,
                what="viewer refused",
            )
            assert res["ok"] is False and "viewer" in res["error"]

            await w.send(
                r.topic("agents/1002/command"), {"action": "login", "token": API_TOKEN, "request_id": "d"}
            )
            res = await w.wait_for(
                lambda: (x := latest(w, r.topic("agents/1002/result"))) and x["request_id"] == "d" and x,
                what="machine token",
            )
            assert res["ok"] is True

            # A revoked session no longer acts.
            await book.logout(chen)
            await w.send(
                r.topic("agents/1001/command"), {"action": "pause", "token": chen, "request_id": "e"}
            )
            res = await w.wait_for(
                lambda: (x := latest(w, r.topic("agents/1001/result"))) and x["request_id"] == "e" and x,
                what="revoked",
            )
            assert res["ok"] is False
        await book.engine.dispose()
    await clear_retained(prefix)


async def test_priority_needs_a_supervisor_within_its_queues(prefix: str, tmp_path: Path) -> None:
    async with running(prefix) as r:
        await r.connected()
        book = await _book(r, tmp_path)
        await add_user(book.engine, "billing_sup", "supervisor", "password-1", queues=frozenset({"billing"}))
        await add_user(book.engine, "sales_sup", "supervisor", "password-1", queues=frozenset({"sales"}))
        await book.refresh()
        tokens = {
            u: (await book.login(u, "password-1", "127.0.0.1")).token
            for u in ("chen", "screen", "billing_sup", "sales_sup")
        }
        router = r.service.router
        r.service.submit(ev.InteractionArrived("p1", "billing"))
        r.service.submit(ev.InteractionArrived("p2", "billing"))
        result, command = r.topic("interactions/p2/result"), r.topic("interactions/p2/command")
        async with watcher(prefix, pattern="interactions/+/result") as w:

            async def send(user: str, rid: str) -> dict[str, Any]:
                await w.send(
                    command, {"action": "priority", "priority": 7, "token": tokens[user], "request_id": rid}
                )
                await w.wait_for(
                    lambda: any(x.get("request_id") == rid for x in w.json_on(result)), what=f"result {rid}"
                )
                return next(x for x in w.json_on(result) if x.get("request_id") == rid)

            # Refused: an agent, a viewer, a supervisor of other queues; nothing changes.
            for user, rid in (("chen", "a"), ("screen", "b"), ("sales_sup", "c")):
                res = await send(user, rid)
                assert res["ok"] is False and user in res["error"], res
            assert router.interactions["p2"].priority == 0 and router.position("p2") == 2
            # Allowed: the supervisor of billing.
            res = await send("billing_sup", "d")
            assert res["ok"] is True and res["position"] == 1
            assert router.interactions["p2"].priority == 7
        await book.engine.dispose()
    await clear_retained(prefix)
