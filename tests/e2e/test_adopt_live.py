"""A real `cc-router run` SIGKILLed beside the real Asterisk with callers connected, ringing
and waiting; started again (or a standby taking over on PostgreSQL):

- the connected call is adopted (agent busy, original answer time, one `answered` row);
- the ringing agent leg is a pending offer: the agent answers it, nobody else is offered it;
- waiting callers are served in the order they first arrived, their stored wait the true one;
- Asterisk's own bridge events, watched on a separate AMI session, never show an agent in
  two bridges at once, nor a caller bridged twice.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from pydantic import SecretStr

from cc_router.adapters.ami.connection import AmiConnection
from cc_router.adapters.ami.protocol import parse_frame
from cc_router.ha.leader import asyncpg_dsn
from cc_router.sandbox import SandboxSettings
from cc_router.testing.live import AmiAdmin, SippCaller, call, kill_all, wait_until
from tests.databases import create_scratch_database, drop_scratch_database
from tests.ha.processes import Router, act, agent, free_port, ready

pytestmark = [pytest.mark.asterisk, pytest.mark.asyncio]

TOKEN = "ha-test-token"
CENTRE = """
skills: [zh, en]
agents:
  - {id: ea1, skills: {zh: 5, en: 5}}
  - {id: ea2, skills: {zh: 5, en: 5}}
  - {id: ea3, skills: {zh: 5, en: 5}}
queues:
  - {name: q_zh, requirement: zh, ring_timeout_s: 25, wrapup_s: 1}
  - {name: q_en, requirement: en, ring_timeout_s: 25, wrapup_s: 1}
numbers:
  "20086": {queue: q_zh}
  "20087": {queue: q_en}
routing: {max_misses: 3, offer_grace_s: 2}
"""
AGENT_CHANNEL = re.compile(r"Local/(ea\d)@ccr-sim-agent")


def _config(tmp: Path, settings: SandboxSettings, name: str) -> Path:
    path = tmp / name
    path.write_text(
        CENTRE
        + f"""
asterisk:
  - name: sandbox
    host: 127.0.0.1
    port: {settings.ami_port}
    username: {settings.ami_user}
    secret: "{settings.ami_secret}"
    ping_interval_s: 1
    ping_timeout_s: 1
    reconnect_max_s: 2
http: {{host: 127.0.0.1, port: {free_port()}, token: {TOKEN}}}
store: {{flush_interval_s: 30}}
""",
        encoding="utf-8",
    )
    return path


@dataclass
class BridgeWatch:
    """Asterisk's BridgeEnter/BridgeLeave on a session of its own: which bridges each agent
    and caller is in, and the most bridges one agent was ever in at once."""

    settings: SandboxSettings
    callers: set[str] = field(default_factory=set)
    agent_in: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    most: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    caller_bridges: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    conn: AmiConnection | None = None

    async def start(self) -> BridgeWatch:
        s = self.settings
        self.conn = AmiConnection(
            "127.0.0.1", s.ami_port, s.ami_user, SecretStr(s.ami_secret), on_event=self.on_event, name="watch"
        )
        await self.conn.connect()
        return self

    def on_event(self, name: str, frame: bytes) -> None:
        if name not in ("BridgeEnter", "BridgeLeave"):
            return
        m = parse_frame(frame)
        if m.get("BridgeTechnology") == "holding_bridge":
            return
        bridge = m.get("BridgeUniqueid", "")
        found = AGENT_CHANNEL.match(m.get("Channel", ""))
        if found is not None:
            aid = found.group(1)
            if name == "BridgeEnter":
                self.agent_in[aid].add(bridge)
                self.most[aid] = max(self.most[aid], len(self.agent_in[aid]))
            else:
                self.agent_in[aid].discard(bridge)
        elif name == "BridgeEnter" and m.get("Uniqueid") in self.callers:
            self.caller_bridges[m["Uniqueid"]].add(bridge)

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()


@pytest.fixture
def pg_url() -> Iterator[str]:
    url = asyncio.run(create_scratch_database("ccr_e2e_adopt"))
    try:
        yield url
    finally:
        asyncio.run(drop_scratch_database(url))


async def _uid_of(admin: AmiAdmin, num: str) -> tuple[str, float]:
    """A caller's Uniqueid and the arrival its hold stamped on the channel."""
    for _ in range(100):
        for ch in await admin.channels():
            if ch.get("CallerIDNum") == num and ch.get("Context") == "ccr-inbound":
                reply = await admin.action(
                    {"Action": "Getvar", "Channel": ch["Channel"], "Variable": "CCR_ARRIVED"}
                )
                if reply.get("Value"):
                    return ch["Uniqueid"], float(reply["Value"])
        await asyncio.sleep(0.1)
    raise AssertionError(f"caller {num} not on hold")


def _has(r: Router, event: str, **fields: Any) -> bool:
    return any(
        ln.get("event") == event and all(ln.get(k) == v for k, v in fields.items()) for ln in r.lines()
    )


async def _rows(backend: str, url: str, db: Path) -> list[dict[str, Any]]:
    sql = "SELECT interaction_id, agent_id, outcome, enqueued_at, answered_at, wait_s FROM interactions"
    if backend == "sqlite":
        with sqlite3.connect(db) as conn:
            conn.row_factory = sqlite3.Row
            return [dict(r) for r in conn.execute(sql).fetchall()]
    conn2 = await asyncpg.connect(asyncpg_dsn(url))
    try:
        return [dict(r) for r in await conn2.fetch(sql)]
    finally:
        await conn2.close()


def _epoch(value: Any) -> float:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(backend, store URL): SQLite restarts the one process, PostgreSQL fails over."""
    if request.param == "sqlite":
        yield "sqlite", f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
        return
    url = asyncio.run(create_scratch_database("ccr_e2e_adopt"))
    try:
        yield "postgres", url
    finally:
        asyncio.run(drop_scratch_database(url))


async def test_sigkill_with_calls_connected_ringing_and_waiting(
    admin: AmiAdmin, sandbox_settings: SandboxSettings, tmp_path: Path, store: tuple[str, str]
) -> None:
    backend, url = store
    db = tmp_path / "store.db"
    first = Router(_config(tmp_path, sandbox_settings, "a.yaml"), url, tmp_path / "a.log").start()
    second = Router(_config(tmp_path, sandbox_settings, "b.yaml"), url, tmp_path / "b.log")
    watch = await BridgeWatch(sandbox_settings).start()
    callers: list[SippCaller] = []
    try:
        base = first.url()
        ready(base, timeout_s=30)
        if backend == "postgres":
            second.start()
            assert ready(second.url(), role="standby")["leader"] == base
        # ea1 answers at once and stays; ea2 rings for 14 s; ea3 serves the rest later.
        await admin.sim_agent("ea1", ring=0.5, talk=0)
        await admin.sim_agent("ea2", ring=14, talk=0)
        await admin.sim_agent("ea3", ring=0.5, talk=1.5)
        for aid in ("ea1", "ea2"):
            assert act(base, "POST", f"/api/agents/{aid}/login").status_code == 200

        nums = {"c1": "13800000711", "c2": "13800000712", "w1": "13800000713", "w2": "13800000714"}
        nums["w3"] = "13800000715"
        uid: dict[str, str] = {}
        arrived: dict[str, float] = {}
        for key, number in (
            ("c1", "20086"),
            ("c2", "20087"),
            ("w1", "20087"),
            ("w2", "20086"),
            ("w3", "20087"),
        ):
            callers.append(await call(sandbox_settings, number, 90000, num=nums[key]))
            uid[key], arrived[key] = await _uid_of(admin, nums[key])
            watch.callers.add(uid[key])
            if key == "c1":
                await wait_until(
                    lambda: _has(first, "connected", interaction_id=uid["c1"]), 15, "c1 connected"
                )
                c1_connected = time.time()
            elif key == "c2":
                await wait_until(lambda: _has(first, "offer", interaction_id=uid["c2"]), 15, "c2 offered")
            await asyncio.sleep(0.3)
        await wait_until(lambda: _has(first, "queued", interaction_id=uid["w3"]), 15, "w3 queued")
        first.kill()
        killed = time.time()

        if backend == "sqlite":
            second.start()
        b_url = second.url()
        ready(b_url, timeout_s=30)
        # The connected call and the ringing leg were adopted, not queued again.
        assert second.wait_log("ami_call_adopted", timeout_s=5)
        adopted = {
            ln["iid"]: ln["connected"] for ln in second.lines() if ln.get("event") == "ami_call_adopted"
        }
        assert adopted == {uid["c1"]: True, uid["c2"]: False}
        assert agent(b_url, "ea1")["state"] == "busy"
        assert agent(b_url, "ea2")["state"] == "reserved"
        assert agent(b_url, "ea1")["state_since"] == pytest.approx(c1_connected, abs=1.5)
        assert agent(b_url, "ea3")["state"] == "logged_out"

        assert act(b_url, "POST", "/api/agents/ea3/login").status_code == 200
        for key in ("w1", "w2", "w3"):
            await wait_until(
                lambda k=key: _has(second, "finished", interaction_id=uid[k]), 30, f"{key} served"
            )
        # ea2 answers the offer made before the kill; it is connected in the new process.
        await wait_until(lambda: _has(second, "connected", interaction_id=uid["c2"]), 20, "c2 connected")
        served = [
            ln["interaction_id"]
            for ln in second.lines()
            if ln.get("event") == "connected"
            and ln.get("interaction_id") in (uid["w1"], uid["w2"], uid["w3"])
        ]
        assert served == [uid["w1"], uid["w2"], uid["w3"]]
        assert all(ln.get("agent_id") == "ea3" for ln in second.lines() if ln.get("event") == "offer")

        for key in ("c1", "c2"):
            await admin.hangup_all(lambda ch, k=key: ch.get("Uniqueid") == uid[k])
        for key in ("c1", "c2"):
            await wait_until(
                lambda k=key: _has(second, "finished", interaction_id=uid[k]), 15, f"{key} ended"
            )
        second.stop()
    finally:
        first.kill()
        if hasattr(second, "proc"):
            second.stop()
        kill_all(callers)
        watch.close()

    # Asterisk never had an agent in two bridges, nor a caller bridged twice.
    assert watch.most and max(watch.most.values()) == 1, dict(watch.most)
    assert {k: len(watch.caller_bridges[u]) for k, u in uid.items()} == dict.fromkeys(uid, 1)

    rows = await _rows(backend, url, db)
    by_iid: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by_iid[r["interaction_id"]].append(r)
    mine = {k: by_iid[u] for k, u in uid.items()}
    assert {k: len(v) for k, v in mine.items()} == dict.fromkeys(uid, 1)
    got = {k: v[0] for k, v in mine.items()}
    assert {k: (r["outcome"], r["agent_id"]) for k, r in got.items()} == {
        "c1": ("answered", "ea1"),
        "c2": ("answered", "ea2"),
        "w1": ("answered", "ea3"),
        "w2": ("answered", "ea3"),
        "w3": ("answered", "ea3"),
    }
    for k, r in got.items():
        # Every wait counts from the arrival stamped on the channel, across the kill.
        assert _epoch(r["enqueued_at"]) == pytest.approx(arrived[k], abs=0.01), k
        assert r["wait_s"] == pytest.approx(_epoch(r["answered_at"]) - arrived[k], abs=0.05), k
    assert _epoch(got["c1"]["answered_at"]) == pytest.approx(c1_connected, abs=1.5)
    assert _epoch(got["c1"]["answered_at"]) < killed
    # Not reset by the restart: longer than the time from the kill to the answer.
    assert got["w1"]["wait_s"] > _epoch(got["w1"]["answered_at"]) - killed


async def _cut_lock_connection(url: str) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        pid = await conn.fetchval(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        )
        assert pid is not None and await conn.fetchval("SELECT pg_terminate_backend($1)", pid)
    finally:
        await conn.close()


@pytest.mark.postgres
async def test_leader_cut_from_postgres_steps_down_and_only_the_new_leader_routes(
    admin: AmiAdmin, sandbox_settings: SandboxSettings, tmp_path: Path, pg_url: str
) -> None:
    a = Router(_config(tmp_path, sandbox_settings, "a.yaml"), pg_url, tmp_path / "a.log").start()
    b = Router(_config(tmp_path, sandbox_settings, "b.yaml"), pg_url, tmp_path / "b.log")
    watch = await BridgeWatch(sandbox_settings).start()
    caller: SippCaller | None = None
    try:
        a_url = a.url()
        ready(a_url, timeout_s=30)
        b.start()
        b_url = b.url()
        assert ready(b_url, role="standby")["leader"] == a_url
        await admin.sim_agent("ea1", ring=0.5, talk=1)
        assert act(a_url, "POST", "/api/agents/ea1/login").status_code == 200

        mark = len(a.lines())
        await _cut_lock_connection(pg_url)
        assert a.wait_log("leadership_lost", after=mark, timeout_s=5)
        ready(b_url, timeout_s=15)
        # a started again in the same process, as a standby naming b.
        assert ready(a_url, role="standby", timeout_s=20)["leader"] == b_url
        assert agent(b_url, "ea1")["state"] == "ready"

        caller = await call(sandbox_settings, "20086", 30000, num="13800000721")
        uid, _ = await _uid_of(admin, "13800000721")
        watch.callers.add(uid)
        await wait_until(lambda: _has(b, "finished", interaction_id=uid), 20, "call served by b")
        assert not _has(a, "offer", interaction_id=uid) and not _has(a, "queued", interaction_id=uid)
        assert len(watch.caller_bridges[uid]) == 1
        assert max(watch.most.values()) == 1
    finally:
        for r in (a, b):
            if hasattr(r, "proc"):
                r.stop()
        if caller is not None:
            kill_all([caller])
        watch.close()
