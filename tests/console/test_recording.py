"""Recording without Asterisk: which calls, the MixMonitor action, the row, retention,
playback with range requests and who may hear it. (Against the real Asterisk:
tests/e2e/test_console_live.py.)"""

from __future__ import annotations

import asyncio
import os
import time
import wave
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from cc_router.config import ConfigError, loads_config
from cc_router.console.recording import Recorder, chosen, measure, relative_path
from cc_router.core import commands as cmd
from cc_router.core.spec import Channel
from cc_router.core.vocabulary import Outcome
from cc_router.store import migrate
from cc_router.store.tables import InteractionRow
from tests.console.stack import ADMIN, console_stack, login


def write_wav(path: Path, seconds: float, rate: int = 8000) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\x10\x20" * int(seconds * rate))


def test_which_calls_are_recorded() -> None:
    assert chosen("a", True) and not chosen("a", False) and not chosen("a", 0.0)
    assert all(chosen(f"call-{i}", 100.0) for i in range(500))
    picked = sum(chosen(f"call-{i}", 25.0) for i in range(10_000))
    assert 2_300 < picked < 2_700
    # The same answer for the same interaction, on any router.
    assert [chosen(f"call-{i}", 25.0) for i in range(200)] == [chosen(f"call-{i}", 25.0) for i in range(200)]


def test_record_setting_in_the_config() -> None:
    c = loads_config("queues: [{name: a, record: true}, {name: b, record: 12.5}, {name: c}]", env={})
    assert [q.record for q in c.queues] == [True, 12.5, False]
    for bad in ("200", "'yes'", "-1"):
        with pytest.raises(ConfigError) as e:
            loads_config(f"queues: [{{name: a, record: {bad}}}]", env={})
        assert "record must be true, false or a percentage" in str(e.value)
    with pytest.raises(ConfigError):
        loads_config("recording: {dir: relative/path}", env={})


def test_path_and_measure(tmp_path: Path) -> None:
    at = datetime(2027, 1, 23, 23, 59, tzinfo=UTC).timestamp()
    assert relative_path("sandbox.17/../x", "10 01", at) == "2027/01/23/sandbox.17_.._x-10_01.wav"
    f = tmp_path / "a.wav"
    write_wav(f, 2.5)
    m = measure(f)
    assert m is not None and m.seconds == 2.5 and m.size == f.stat().st_size
    (tmp_path / "broken.wav").write_bytes(b"not a wav")
    assert measure(tmp_path / "broken.wav") is None
    assert measure(tmp_path / "missing.wav") is None


@dataclass
class FakeLeg:
    channel: str


@dataclass
class FakeRegistry:
    by_iid: dict[str, FakeLeg] = field(default_factory=dict)


@dataclass
class FakeNode:
    registry: FakeRegistry = field(default_factory=FakeRegistry)
    sent: list[Mapping[str, Any]] = field(default_factory=list)

    async def send_action(self, action: Mapping[str, str | Sequence[str]]) -> Any:
        self.sent.append(dict(action))
        return {"Response": "Success"}


def _connected(iid: str, queue: str, channel: Channel = Channel.VOICE) -> cmd.InteractionConnected:
    return cmd.InteractionConnected(iid, "1001", queue, channel, 3.0, 100.0)


async def _engine(tmp_path: Path) -> AsyncEngine:
    url = f"sqlite+aiosqlite:///{tmp_path / 'rec.db'}"
    await migrate(url)
    return create_async_engine(url)


def _row(iid: str, queue: str, ended: float) -> dict[str, Any]:
    t = datetime.fromtimestamp(ended, tz=UTC)
    return {
        "interaction_id": iid,
        "channel": "voice",
        "queue": queue,
        "caller": "13800138000",
        "agent_id": "1001",
        "enqueued_at": t,
        "offered_at": t,
        "answered_at": t,
        "ended_at": t,
        "outcome": "answered",
        "wait_s": 1.0,
        "talk_s": 2.0,
        "step": 0,
        "misses": 0,
        "disposition": "agent_hangup",
        "explanation": None,
    }


@pytest.mark.asyncio
async def test_recorder_starts_mixmonitor_and_fills_the_row(tmp_path: Path) -> None:
    rec_dir = tmp_path / "rec"
    config = loads_config(
        f"""
queues: [{{name: rec, record: true}}, {{name: plain}}, {{name: chat, channel: chat, record: true}}]
recording: {{dir: "{rec_dir}", asterisk_dir: /var/spool/asterisk/monitor/x}}
""",
        env={},
    )
    engine = await _engine(tmp_path)
    node = FakeNode()
    node.registry.by_iid = {"c1": FakeLeg("PJSIP/trunk-0001"), "c2": FakeLeg("PJSIP/trunk-0002")}
    recorder = Recorder(lambda: config, engine, [node])
    task = asyncio.create_task(recorder.run())
    try:
        recorder.on_commands([_connected("c1", "rec"), _connected("c2", "plain")], 100.0)
        recorder.on_commands([_connected("t1", "chat", Channel.CHAT)], 100.0)
        assert recorder.pending == {"c1"}
        await asyncio.sleep(0.1)
        rel = relative_path("c1", "1001", 100.0)
        assert node.sent == [
            {
                "Action": "MixMonitor",
                "Channel": "PJSIP/trunk-0001",
                "File": f"/var/spool/asterisk/monitor/x/{rel}",
            }
        ]
        # Asterisk writes the file (here: the test); the row comes from the store writer.
        write_wav(rec_dir / rel, 4.0)
        async with engine.begin() as conn:
            await conn.execute(insert(InteractionRow).values(**_row("c1", "rec", time.time())))
        finished = cmd.InteractionFinished(
            "c1", "rec", Channel.VOICE, "13800138000", Outcome.ANSWERED, "1001",
            90.0, 97.0, 100.0, 104.0, 10.0, 4.0, 0, 0, "agent_hangup", None,
        )  # fmt: skip
        recorder.on_commands([finished], 104.0)
        for _ in range(100):
            if "c1" in recorder.measured:
                break
            await asyncio.sleep(0.05)
        async with engine.connect() as conn:
            row = (
                await conn.execute(
                    select(
                        InteractionRow.recording_path,
                        InteractionRow.recording_s,
                        InteractionRow.recording_bytes,
                    )
                )
            ).one()
        assert row == (str(rec_dir / rel), 4.0, (rec_dir / rel).stat().st_size)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await engine.dispose()


@pytest.mark.asyncio
async def test_retention_deletes_old_recordings(tmp_path: Path) -> None:
    rec_dir = tmp_path / "rec"
    config = loads_config(f'recording: {{dir: "{rec_dir}", retention_days: 30}}', env={})
    engine = await _engine(tmp_path)
    now = time.time()
    old, new = rec_dir / "2026/10/01/old-1001.wav", rec_dir / "2026/12/01/new-1001.wav"
    write_wav(old, 1)
    write_wav(new, 1)
    os.utime(old, (now - 31 * 86_400, now - 31 * 86_400))
    async with engine.begin() as conn:
        for iid, path, ended in (("old", old, now - 31 * 86_400), ("new", new, now - 86_400)):
            await conn.execute(
                insert(InteractionRow).values(**_row(iid, "q", ended), recording_path=str(path))
            )
    try:
        recorder = Recorder(lambda: config, engine, [], clock=lambda: now)
        assert await recorder.enforce_retention() == 1
        assert not old.exists() and new.exists()
        async with engine.connect() as conn:
            rows = dict(
                (
                    await conn.execute(select(InteractionRow.interaction_id, InteractionRow.recording_path))
                ).all()
            )
        assert rows == {"old": None, "new": str(new)}
    finally:
        await engine.dispose()


@pytest.mark.asyncio
async def test_playback_with_ranges_for_supervisors_only(tmp_path: Path) -> None:
    rec_dir = tmp_path / "rec"
    async with console_stack(tmp_path, f'recording: {{dir: "{rec_dir}"}}\n') as stack:
        f = rec_dir / "2027/01/23/call-9-1001.wav"
        write_wav(f, 1.0)
        size = f.stat().st_size
        async with stack.engine.begin() as conn:
            await conn.execute(
                insert(InteractionRow).values(
                    **_row("call-9", "billing", time.time()),
                    recording_path=str(f),
                    recording_s=1.0,
                    recording_bytes=size,
                )
            )
        async with httpx.AsyncClient(base_url=stack.base) as client:
            boss = await login(client, "boss")
            r = await client.get("/api/recordings/call-9", headers=boss)
            assert r.status_code == 200 and r.headers["content-type"] == "audio/wav"
            assert r.content == f.read_bytes() and r.headers["accept-ranges"] == "bytes"
            r = await client.get("/api/recordings/call-9", headers={**boss, "Range": "bytes=100-199"})
            assert r.status_code == 206 and r.content == f.read_bytes()[100:200]
            assert r.headers["content-range"] == f"bytes 100-199/{size}"
            token = boss["Authorization"].split()[1]
            assert (await client.get(f"/api/recordings/call-9?token={token}")).status_code == 200

            listing = (await client.get("/api/recordings", headers=boss)).json()["recordings"]
            assert [(x["interaction_id"], x["seconds"], x["bytes"]) for x in listing] == [
                ("call-9", 1.0, size)
            ]

            zhang = await login(client, "zhang")
            wall = await login(client, "wall")
            sales_lead = await login(client, "sales_lead")
            for who in (zhang, wall):
                assert (await client.get("/api/recordings/call-9", headers=who)).status_code == 403
                assert (await client.get("/api/recordings", headers=who)).status_code == 403
            # A supervisor of sales may not hear a billing call, nor see it listed.
            assert (await client.get("/api/recordings/call-9", headers=sales_lead)).status_code == 403
            assert (await client.get("/api/recordings", headers=sales_lead)).json()["recordings"] == []
            assert (await client.get("/api/recordings/call-9")).status_code == 401
            assert (await client.get("/api/recordings/nope", headers=boss)).status_code == 404

            audit = (await client.get("/api/audit", headers=ADMIN, params={"action": "playback"})).json()[
                "audit"
            ]
            # Two playbacks from the start (header and query token); the range request is not one.
            assert [(a["user"], a["target"]) for a in audit] == [("boss", "call-9"), ("boss", "call-9")]

            f.unlink()
            assert (await client.get("/api/recordings/call-9", headers=boss)).status_code == 410
