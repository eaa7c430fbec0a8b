"""Figures for conversations: web chats under load, and e-mail intake from IMAP.

`chat_rows`: the whole service (store, HTTP, omni, conversations) in this process; web-chat
customers and the agents answering them in other processes (`conv_load`) over loopback.
Each chat: the customer's first text, then ROUNDS agent messages each answered by the
customer (after a 20 s think time on both sides), then the agent completes the task.
CC_ROUTER_BENCH_TRACE=1 prints chats connected and SQL connections in use per pool every 0.5 s.
Figures: agent -> customer delivery (reply POSTed to the customer's page receiving it
over server-sent events), customer -> agent delivery (the same the other way), the peak
of chats connected at once, and the core's `Router.handle` time per event while they run,
with the event loop's lag (what every request waits on top of its own work) and the
router process's CPU time per chat. Afterwards, what SQL holds (messages, tasks still
unfinished, audit rows of the agents' logins): what was accepted and not stored shows.
The run ends by the load's deadline (330 s) plus a minute, whatever happens.

`mail_row`: N messages put into a private Dovecot mailbox (LMTP), then the service's IMAP
reader started: messages per second until each is a stored conversation with a routed task.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from cc_router.bench.e2e import percentile

TOKEN = "conv-bench-token"
PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


@contextlib.asynccontextmanager
async def store_url(tmp: str, name: str) -> AsyncIterator[tuple[str, str]]:
    """A scratch PostgreSQL database (what a centre under this load runs on), dropped
    afterwards; SQLite in `tmp` when there is no PostgreSQL. Yields (url, dialect)."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    db = f"ccr_bench_{name}_{uuid.uuid4().hex[:8]}"
    admin = create_async_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{db}"'))
    except OSError:
        await admin.dispose()
        yield f"sqlite+aiosqlite:///{Path(tmp) / (name + '.db')}", "sqlite"
        return
    try:
        yield PG_URL.rsplit("/", 1)[0] + "/" + db, "postgresql"
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
        await admin.dispose()


def centre_yaml(agents: int, capacity: int, extra: str = "") -> str:
    lines = "\n".join(f"  - {{id: ag{i}, profile: chat, skills: {{support: 1}}}}" for i in range(agents))
    return f"""
centre: {{name: conv bench, timezone: Asia/Shanghai}}
skills: [support]
profiles:
  chat: {{capacity: {{chat: {capacity}, email: 1}}}}
agents:
{lines}
queues:
  - {{name: chat_bench, channel: chat, requirement: support, ring_timeout_s: 120}}
  - {{name: email_bench, channel: email, requirement: support, ring_timeout_s: 120}}
http: {{host: 127.0.0.1, port: 8080, token: {TOKEN}}}
logging: {{level: warning}}
store: {{flush_interval_s: 0.2}}
conversations:
  chat:
    topics: [{{name: bench, label: Bench, queue: chat_bench}}]
    starts_per_minute: 1000000
    messages_per_minute: 600
    leave_grace_s: 60
{extra}"""


def _ms(values: list[float], q: float) -> float | None:
    p = percentile(values, q)
    return None if p is None else round(p, 2)


class CoreTimer:
    """Wraps `Router.handle` to time each call (perf_counter) while `on` is set."""

    def __init__(self, router: Any) -> None:
        self.samples: list[float] = []
        self.on = False
        inner: Callable[..., Any] = router.handle

        def timed(event: Any, now: float) -> Any:
            if not self.on:
                return inner(event, now)
            t0 = time.perf_counter()
            out = inner(event, now)
            self.samples.append((time.perf_counter() - t0) * 1e6)
            return out

        router.handle = timed


async def _loop_lag(samples: list[float], stop: asyncio.Event, every_s: float = 0.05) -> None:
    while not stop.is_set():
        t0 = time.perf_counter()
        await asyncio.sleep(every_s)
        samples.append((time.perf_counter() - t0 - every_s) * 1000.0)


@contextlib.contextmanager
def _loaders(commands: list[list[str]], tmp: str) -> Iterator[list[tuple[subprocess.Popen[str], Path]]]:
    """The load processes, each printing its result into a file of its own: a pipe read
    only after they exit fills (the figures are ~100 kB) and blocks them for ever."""
    procs = []
    try:
        for n, c in enumerate(commands):
            out = Path(tmp) / f"load-{n}.json"
            with out.open("w") as f:
                p = subprocess.Popen(
                    [sys.executable, "-m", "cc_router.bench.conv_load", *c],
                    stdin=subprocess.PIPE,
                    stdout=f,
                    text=True,
                )
            procs.append((p, out))
        yield procs
    finally:
        for p, _ in procs:
            if p.poll() is None:
                p.kill()
                p.wait()


def _result(proc: subprocess.Popen[str], out: Path, timeout_s: float = 60.0) -> dict[str, Any]:
    try:
        proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    try:
        data: dict[str, Any] = json.loads(out.read_text().strip().splitlines()[-1])
        return data
    except (IndexError, ValueError, OSError):
        return {"errors": {f"exit_{proc.returncode}": 1}, "delivered_ms": []}


async def chat_row(
    chats: int = 2000, rounds: int = 3, customer_procs: int = 2, think_s: float | None = None
) -> dict[str, Any]:
    """One run; `think_s` shorter than people type is for the test of this machinery."""
    from cc_router.bench.conv_load import THINK_S, deadline_s
    from cc_router.config import loads_config
    from cc_router.logs.configure import configure_logging
    from cc_router.wiring import build

    think = THINK_S if think_s is None else think_s
    capacity = 4
    agents = -(-chats // capacity)
    config = loads_config(centre_yaml(agents, capacity), env={})
    configure_logging(config.logging)
    with tempfile.TemporaryDirectory() as tmp:
        async with store_url(tmp, "chat") as (url, dialect):
            built = build(config, store_url_override=url)
            built.http.port = 0
            timer = CoreTimer(built.service.router)
            run = asyncio.create_task(built.service.run())
            lag: list[float] = []
            stop = asyncio.Event()
            try:
                await asyncio.wait_for(built.http.started.wait(), 30)
                await asyncio.wait_for(built.omni.intake.ready.wait(), 30)
                await asyncio.wait_for(built.conversations.hub.ready.wait(), 30)
                base = f"http://127.0.0.1:{built.http.bound_port}"
                per = -(-chats // customer_procs)
                cmds = [["agents", base, TOKEN, "0", str(agents), str(rounds), str(think)]]
                cmds += [
                    ["customers", base, str(min(per, chats - k * per)), str(rounds), str(think)]
                    for k in range(customer_procs)
                ]
                lagger = asyncio.create_task(_loop_lag(lag, stop))
                timer.on = True
                cpu0 = time.process_time()
                with _loaders(cmds, tmp) as procs:
                    watched = await _watch(built, [p for p, _ in procs[1:]], deadline_s(think) + 60)
                    cpu_s = time.process_time() - cpu0
                    timer.on = False
                    stop.set()
                    await lagger
                    agent_proc = procs[0][0]
                    if agent_proc.stdin is not None:
                        agent_proc.stdin.close()
                    results = [await asyncio.to_thread(_result, p, out) for p, out in procs[1:]]
                    agent_result = await asyncio.to_thread(_result, *procs[0])
                stored = await _stored(built)
            finally:
                stop.set()
                run.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await run
    to_customer = [v for r in results for v in r.get("delivered_ms", [])]
    sends = [v for r in results for v in r.get("send_ms", [])]
    to_agent = list(agent_result.get("delivered_ms", []))
    errors: dict[str, int] = {}
    for r in [*results, agent_result]:
        for k, v in r.get("errors", {}).items():
            errors[k] = errors.get(k, 0) + int(v)
    core = timer.samples
    return {
        "name": "conv_chat",
        "chats": chats,
        "agents": agents,
        "rounds": rounds,
        "think_s": think,
        "store": dialect,
        "load_processes": customer_procs + 1,
        "chats_finished": sum(int(r.get("finished", 0)) for r in results),
        **watched,
        "to_customer_n": len(to_customer),
        "to_customer_p50_ms": _ms(to_customer, 50),
        "to_customer_p99_ms": _ms(to_customer, 99),
        "to_agent_n": len(to_agent),
        "to_agent_p50_ms": _ms(to_agent, 50),
        "to_agent_p99_ms": _ms(to_agent, 99),
        "customer_post_p50_ms": _ms(sends, 50),
        "customer_post_p99_ms": _ms(sends, 99),
        "agent_post_p50_ms": _ms(list(agent_result.get("reply_ms", [])), 50),
        "agent_post_p99_ms": _ms(list(agent_result.get("reply_ms", [])), 99),
        "core_events": len(core),
        "core_p50_us": _ms(core, 50),
        "core_p99_us": _ms(core, 99),
        "core_max_us": round(max(core), 1) if core else None,
        "loop_lag_p50_ms": _ms(lag, 50),
        "loop_lag_p99_ms": _ms(lag, 99),
        "loop_lag_max_ms": round(max(lag), 1) if lag else None,
        "router_cpu_s": round(cpu_s, 1),
        "router_cpu_ms_per_chat": round(1000 * cpu_s / chats, 1),
        "agent_logins": int(agent_result.get("logins", 0)),
        **stored,
        "errors": errors,
        "cpu_count": os.cpu_count(),
    }


async def _watch(built: Any, customers: list[subprocess.Popen[str]], limit_s: float) -> dict[str, Any]:
    """Until the customers' processes are done (at most `limit_s`): the peak of chats
    connected at once and of SQL connections in use, per pool."""
    from cc_router.core.vocabulary import Stage

    hub, router = built.conversations.hub, built.service.router
    pools = {"conversations": hub.store.engine, "store": built.store.engine, "tasks": built.omni.store.engine}
    peak = 0
    pool_peak = dict.fromkeys(pools, 0)
    t0 = time.monotonic()
    while any(p.poll() is None for p in customers) and time.monotonic() - t0 < limit_s:
        connected = sum(
            1
            for tid in list(hub.by_task)
            if (it := router.interactions.get(tid)) is not None and it.stage is Stage.CONNECTED
        )
        peak = max(peak, connected)
        for name, engine in pools.items():
            pool_peak[name] = max(pool_peak[name], int(engine.pool.checkedout()))
        if os.environ.get("CC_ROUTER_BENCH_TRACE"):
            used = " ".join(f"{n}={int(e.pool.checkedout())}" for n, e in pools.items())
            print(f"t={time.monotonic() - t0:.0f} connected={connected} sql {used}", file=sys.stderr)
        await asyncio.sleep(0.5)
    return {
        "connected_peak": peak,
        "seconds": round(time.monotonic() - t0, 1),
        **{f"sql_{name}_peak": n for name, n in pool_peak.items()},
    }


async def _stored(built: Any) -> dict[str, int]:
    """What SQL holds once the writers have flushed: every message and task accepted, and
    one audit row per agent login, or the figure shows what was lost."""
    from sqlalchemy import func, select

    from cc_router.console.tables import AuditRow
    from cc_router.conversations.tables import messages
    from cc_router.store.omni_tables import UNFINISHED, tasks

    await built.omni.store.flush()
    async with built.omni.store.engine.connect() as conn:
        n_messages = (await conn.execute(select(func.count()).select_from(messages))).scalar_one()
        n_tasks = (await conn.execute(select(func.count()).select_from(tasks))).scalar_one()
        open_tasks = (
            await conn.execute(select(func.count()).select_from(tasks).where(tasks.c.status.in_(UNFINISHED)))
        ).scalar_one()
        n_audit = (await conn.execute(select(func.count()).select_from(AuditRow))).scalar_one()
    return {
        "stored_messages": int(n_messages),
        "stored_tasks": int(n_tasks),
        "stored_tasks_unfinished": int(open_tasks),
        "stored_audit_rows": int(n_audit),
    }


def _mails(n: int, to: str) -> Iterator[bytes]:
    for i in range(n):
        msg = EmailMessage()
        msg["From"] = f"客户{i} <customer{i}@example.test>"
        msg["To"] = to
        msg["Subject"] = f"发票问题 {i}"
        msg["Message-ID"] = f"<bench-{i}@example.test>"
        msg.set_content(f"你好，我的第{i}张发票没有收到。\n谢谢")
        yield msg.as_bytes()


async def mail_row(n: int = 2000) -> dict[str, Any]:
    from cc_router.testing.dovecot import dovecot

    box = "support@example.test"
    with dovecot([box]) as server, tempfile.TemporaryDirectory() as tmp:
        t0 = time.monotonic()
        await asyncio.to_thread(server.deliver_many, _mails(n, box), box)
        lmtp_s = time.monotonic() - t0
        async with store_url(tmp, "mail") as (url, dialect):
            row = await _mail_intake(server.imap_port, box, url, n)
    return {**row, "store": dialect, "lmtp_fill_per_s": round(n / lmtp_s, 1) if lmtp_s > 0 else None}


async def _mail_intake(imap_port: int, box: str, url: str, n: int) -> dict[str, Any]:
    from cc_router.config import loads_config
    from cc_router.logs.configure import configure_logging
    from cc_router.testing.dovecot import PASSWORD
    from cc_router.wiring import build

    extra = f"""  mailboxes:
    - {{name: support, address: {box}, imap_host: 127.0.0.1, imap_port: {imap_port},
       imap_tls: false, username: {box}, password: {PASSWORD}, queue: email_bench, poll_s: 5}}
"""
    config = loads_config(centre_yaml(10, 1, extra), env={})
    configure_logging(config.logging)
    built = build(config, store_url_override=url)
    built.http.port = 0
    [reader] = built.conversations.readers
    run = asyncio.create_task(built.service.run())
    try:
        await asyncio.wait_for(reader.connected.wait(), 60)
        t1 = time.monotonic()
        while reader.taken < n and time.monotonic() - t1 < 600:
            await asyncio.sleep(0.05)
        took = time.monotonic() - t1
        routed = len(built.conversations.hub.by_task)
    finally:
        run.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await run
    return {
        "name": "conv_email_imap",
        "messages": n,
        "taken": reader.taken,
        "routed_tasks": routed,
        "idle": reader.idle_used,
        "seconds": round(took, 2),
        "messages_per_s": round(reader.taken / took, 1) if took > 0 else None,
    }


def rows(small: bool = False) -> Iterator[dict[str, Any]]:
    """Each row bounded in time: the chats by the load's deadline, the mail by 600 s."""
    yield asyncio.run(chat_row(200 if small else 2000))
    yield asyncio.run(mail_row(200 if small else 2000))
