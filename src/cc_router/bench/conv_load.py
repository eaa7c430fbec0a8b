"""Load for the `conv` bench, run in processes of its own so the router's process only
routes and serves: web-chat customers, or agents answering them, over loopback HTTP.

`python -m cc_router.bench.conv_load customers BASE N ROUNDS [THINK_S]` and
`python -m cc_router.bench.conv_load agents BASE TOKEN FIRST LAST ROUNDS [THINK_S]` print
one JSON object when done (to stdout, which the bench points at a file: a pipe nobody
reads until the process exits would fill and block it). Every message carries the
sender's `time.monotonic()` (one clock for every process on Linux), so the receiver
measures its delivery.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import sys
import time
from collections.abc import AsyncGenerator
from typing import Any

import httpx

STAMP = "t="
RAMP_PER_S = 50.0
"""Customers start at this rate: a bounded ramp, not 2,000 connects at once."""
THINK_S = 20.0
"""Between a message received and the answer, on both sides: people type. With the ramp
it keeps every chat open at once: the last starts at 40 s, the first ends after ~100 s."""
DEADLINE_S = 330.0
KEEPALIVE_S = 2.0
"""Idle keep-alive connections are dropped after this, well before the server's own 5 s
(uvicorn's): at equal timeouts a request sent on a connection the server is closing
fails with ReadError, and the chat it belonged to was given up."""


def stamped(text: str) -> str:
    return f"{STAMP}{time.monotonic():.6f} {text}"


def delay_ms(body: str) -> float | None:
    if not body.startswith(STAMP):
        return None
    try:
        return (time.monotonic() - float(body[len(STAMP) :].split(" ", 1)[0])) * 1000.0
    except ValueError:
        return None


async def sse(client: httpx.AsyncClient, url: str) -> AsyncGenerator[tuple[str, dict[str, Any]], None]:
    """(event, data) from a server-sent event stream."""
    async with client.stream("GET", url, timeout=httpx.Timeout(10.0, read=None)) as r:
        r.raise_for_status()
        kind, data = "message", ""
        async for line in r.aiter_lines():
            if line.startswith("event:"):
                kind = line[6:].strip()
            elif line.startswith("data:"):
                data += line[5:].strip()
            elif not line and data:
                yield kind, json.loads(data)
                kind, data = "message", ""


_SSL = ssl.create_default_context()


def _client() -> httpx.AsyncClient:
    """One per customer or agent, as each is a browser of its own: a connection pool
    shared by a thousand of them becomes the bottleneck of the load, not the router."""
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=8, keepalive_expiry=KEEPALIVE_S)
    return httpx.AsyncClient(limits=limits, timeout=30.0, verify=_SSL)


async def customers(base: str, count: int, rounds: int, think_s: float = THINK_S) -> dict[str, Any]:
    delivered: list[float] = []
    sends: list[float] = []
    errors: dict[str, int] = {}
    finished = 0

    def failed(what: str) -> None:
        errors[what] = errors.get(what, 0) + 1

    async def one(n: int) -> None:
        await asyncio.sleep(n / RAMP_PER_S)
        async with _client() as client:
            await chat(n, client)

    async def chat(n: int, client: httpx.AsyncClient) -> None:
        nonlocal finished
        r = await client.post(f"{base}/chat/api/start", json={"topic": "bench", "text": stamped(f"客户{n}")})
        if r.status_code != 201:
            failed(f"start_{r.status_code}")
            return
        token = r.json()["token"]
        heard: set[int] = set()

        async def agent_said(m: dict[str, Any]) -> None:
            if m.get("author") in ("customer", "system") or m.get("id") in heard:
                return
            heard.add(int(m.get("id", -1)))
            ms = delay_ms(str(m.get("body", "")))
            if ms is not None:
                delivered.append(ms)
            if len(heard) >= rounds:
                return  # the agent ends the chat after its last message
            await asyncio.sleep(think_s)
            t0 = time.monotonic()
            r = await client.post(
                f"{base}/chat/api/messages", json={"text": stamped("好的")}, headers={"X-Chat-Token": token}
            )
            sends.append((time.monotonic() - t0) * 1000.0)
            if r.status_code != 201:
                failed(f"say_{r.status_code}")

        async for kind, data in sse(client, f"{base}/chat/api/events?token={token}"):
            if kind == "hello":
                for m in data.get("messages", ()):
                    await agent_said(m)
            elif kind == "message":
                await agent_said(data)
            state = data.get("state", data) if kind in ("state", "hello") else {}
            if state.get("status") == "ended":
                finished += 1
                return

    jobs = [asyncio.create_task(one(n)) for n in range(count)]
    done, pending = await asyncio.wait(jobs, timeout=deadline_s(think_s))
    for j in pending:
        j.cancel()
    for j in done:
        if (exc := j.exception()) is not None:
            failed(type(exc).__name__)
    return {
        "role": "customers",
        "chats": count,
        "finished": finished,
        "unfinished": len(pending),
        "delivered_ms": delivered,
        "send_ms": sends,
        "errors": errors,
    }


async def agents(
    base: str, token: str, first: int, last: int, rounds: int, think_s: float = THINK_S
) -> dict[str, Any]:
    auth = {"Authorization": f"Bearer {token}"}
    delivered: list[float] = []
    replies: list[float] = []
    errors: dict[str, int] = {}
    logins: list[str] = []
    stop = asyncio.Event()

    def failed(what: str) -> None:
        errors[what] = errors.get(what, 0) + 1

    async def chat(client: httpx.AsyncClient, aid: str, task_id: str) -> None:
        try:
            await answer(client, aid, task_id)
        except httpx.HTTPError as e:
            failed(type(e).__name__)

    async def answer(client: httpx.AsyncClient, aid: str, task_id: str) -> None:
        r = await client.post(f"{base}/api/tasks/{task_id}/accept", json={"agent_id": aid}, headers=auth)
        if r.status_code != 200:
            failed(f"accept_{r.status_code}")
            return
        conv = (await client.get(f"{base}/api/tasks/{task_id}/conversation", headers=auth)).json()
        cid = conv["conversation_id"]
        stream = sse(client, f"{base}/api/conversations/{cid}/stream?token={token}")
        await anext(stream)  # the first event (state): watching before the first reply
        for n in range(rounds):
            t0 = time.monotonic()
            r = await client.post(
                f"{base}/api/conversations/{cid}/messages",
                json={"agent_id": aid, "text": stamped(f"第{n + 1}条回复")},
                headers=auth,
            )
            replies.append((time.monotonic() - t0) * 1000.0)
            if r.status_code != 201:
                failed(f"reply_{r.status_code}")
                break
            if n == rounds - 1:
                break
            try:
                async with asyncio.timeout(60):
                    async for kind, data in stream:
                        if kind == "message" and data.get("author") == "customer":
                            ms = delay_ms(str(data.get("body", "")))
                            if ms is not None:
                                delivered.append(ms)
                            break
            except TimeoutError:
                failed("no_answer")
                break
            await asyncio.sleep(think_s)
        await stream.aclose()
        r = await client.post(f"{base}/api/tasks/{task_id}/complete", json={"agent_id": aid}, headers=auth)
        if r.status_code != 200:
            failed(f"complete_{r.status_code}")

    async def agent(aid: str) -> None:
        async with _client() as client:
            await work(client, aid)

    async def work(client: httpx.AsyncClient, aid: str) -> None:
        r = await client.post(f"{base}/api/agents/{aid}/login", headers=auth)
        if r.status_code != 200:
            failed(f"login_{r.status_code}")
        else:
            logins.append(aid)
        seen: set[str] = set()
        working: set[asyncio.Task[None]] = set()
        while not stop.is_set():
            try:
                r = await client.get(f"{base}/api/agents/{aid}/offers?wait=5", headers=auth)
            except httpx.HTTPError as e:
                failed(type(e).__name__)
                await asyncio.sleep(0.5)
                continue
            for o in r.json().get("offers", ()):
                if o["task_id"] not in seen:
                    seen.add(o["task_id"])
                    t = asyncio.create_task(chat(client, aid, o["task_id"]))
                    working.add(t)
                    t.add_done_callback(working.discard)
        if working:
            await asyncio.wait(working, timeout=10)

    jobs = [asyncio.create_task(agent(f"ag{i}")) for i in range(first, last)]
    # Runs until the bench stops it (stdin closes) or the deadline.
    loop = asyncio.get_running_loop()
    closed = loop.run_in_executor(None, sys.stdin.read)
    await asyncio.wait([asyncio.ensure_future(closed)], timeout=deadline_s(think_s) + 30)
    stop.set()
    await asyncio.wait(jobs, timeout=15)
    return {
        "role": "agents",
        "agents": last - first,
        "delivered_ms": delivered,
        "reply_ms": replies,
        "logins": len(logins),
        "errors": errors,
    }


def deadline_s(think_s: float) -> float:
    """The bench's default run ends within DEADLINE_S; a shorter think time, sooner."""
    return DEADLINE_S if think_s >= THINK_S else min(DEADLINE_S, 60.0 + 10 * think_s)


def main(argv: list[str]) -> int:
    if argv[:1] == ["customers"]:
        think = float(argv[4]) if len(argv) > 4 else THINK_S
        out = asyncio.run(customers(argv[1], int(argv[2]), int(argv[3]), think))
    elif argv[:1] == ["agents"]:
        think = float(argv[6]) if len(argv) > 6 else THINK_S
        out = asyncio.run(agents(argv[1], argv[2], int(argv[3]), int(argv[4]), int(argv[5]), think))
    else:
        print(__doc__, file=sys.stderr)
        return 2
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
