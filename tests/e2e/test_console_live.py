"""The supervisor console against the real Asterisk 22 sandbox: recorded calls leave a
non-silent file of the call's length (read back with sox), and a queue that does not
record leaves none; listen, whisper and barge carry the audio each mode promises, measured
in what caller, agent and supervisor each receive."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from cc_router.console.recording import Recorder
from cc_router.core import commands as cmd
from cc_router.sandbox import SandboxSettings
from cc_router.testing.live import AmiAdmin, LiveService, sandbox_config, wait_until

pytestmark = [pytest.mark.asterisk, pytest.mark.asyncio]

CENTRE = """
skills: [zh]
agents:
  - {{id: ea7, skills: {{zh: 5}}}}
  - {{id: ea8, skills: {{zh: 5}}, endpoint: "Local/ea8@ccr-console-test-agent"}}
queues:
  - {{name: q_rec, requirement: zh, ring_timeout_s: 5, wrapup_s: 0, record: true}}
  - {{name: q_norec, requirement: zh, ring_timeout_s: 5, wrapup_s: 0, record: false}}
numbers:
  "20091": {{queue: q_rec}}
  "20092": {{queue: q_norec}}
recording: {{dir: "{dir}", asterisk_dir: "{asterisk_dir}", retention_days: 30}}
"""
TALK_S = 3


def sox_stat(path: Path) -> dict[str, float]:
    out = subprocess.run(["sox", str(path), "-n", "stat"], capture_output=True, text=True, check=True).stderr
    stats = {}
    for line in out.splitlines():
        m = re.match(r"^(.+?):\s+(-?[0-9.]+)$", line.strip())
        if m:
            stats[" ".join(m.group(1).split())] = float(m.group(2))
    return stats


@pytest_asyncio.fixture
async def recorded(
    admin: AmiAdmin, sandbox_settings: SandboxSettings, tmp_path: Path
) -> AsyncIterator[tuple[LiveService, Recorder, Path]]:
    inside = f"/var/spool/asterisk/monitor/ccr-test-{uuid.uuid4().hex[:8]}"
    outside = Path(sandbox_settings.root) / inside.lstrip("/")
    url = f"sqlite+aiosqlite:///{tmp_path / 'rec.db'}"
    config = sandbox_config(CENTRE.format(dir=outside, asterisk_dir=inside), sandbox_settings, store_url=url)
    live = LiveService(config)
    recorder = Recorder(lambda: live.config, live.writer.engine, live.nodes)
    live.service.sinks.append(recorder.on_commands)
    await admin.sim_agent("ea7", ring=0.5, talk=TALK_S, answer="1")
    await live.start()
    task = asyncio.create_task(recorder.run())
    try:
        yield live, recorder, outside
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await live.stop()
        shutil.rmtree(outside, ignore_errors=True)


async def _call(admin: AmiAdmin, number: str, caller: str) -> None:
    reply = await admin.action(
        {
            "Action": "Originate",
            "Channel": f"Local/{number}@ccr-console-test-caller/n",
            "Context": "ccr-inbound",
            "Exten": number,
            "Priority": "1",
            "CallerID": f'"录音测试" <{caller}>',
            "Variable": "CCR_TEST_S=30",
            "Async": "true",
        }
    )
    assert reply.get("Response") == "Success", reply


async def test_a_recorded_call_leaves_a_file_of_its_length(
    recorded: tuple[LiveService, Recorder, Path], admin: AmiAdmin
) -> None:
    live, recorder, outside = recorded
    live.login("ea7")
    await _call(admin, "20091", "13800000091")
    await wait_until(lambda: len(live.of(cmd.InteractionFinished)) == 1, 20, "the recorded call finished")
    finished = live.of(cmd.InteractionFinished)[0]
    assert finished.outcome == "answered"
    iid = finished.interaction_id
    await wait_until(lambda: iid in recorder.measured, 20, "the recording on its row")
    m = recorder.measured[iid]
    path = Path(m.path)
    assert path.is_file() and path.is_relative_to(outside)
    stats = sox_stat(path)
    # The caller's tone for the whole talk time: as long as the call, and far from silence.
    assert abs(stats["Length (seconds)"] - finished.talk_s) < 0.6, (stats, finished.talk_s)
    assert abs(m.seconds - stats["Length (seconds)"]) < 0.05
    assert stats["RMS amplitude"] > 0.05, stats
    assert m.size == path.stat().st_size > 10_000
    print(
        f"recording: talk {finished.talk_s:.2f} s, file {stats['Length (seconds)']:.2f} s, "
        f"RMS {stats['RMS amplitude']:.3f}, {m.size} bytes"
    )

    engine = create_async_engine(live.config.store.url)
    try:
        async with engine.connect() as conn:
            row = (
                await conn.execute(
                    sa.text(
                        "select recording_path, recording_s, recording_bytes from interactions "
                        "where interaction_id = :iid"
                    ),
                    {"iid": iid},
                )
            ).one()
    finally:
        await engine.dispose()
    assert row == (str(path), m.seconds, m.size)

    # Off: the same call to a queue that does not record leaves no file and no path.
    before = set(outside.rglob("*.wav"))
    await _call(admin, "20092", "13800000092")
    await wait_until(lambda: len(live.of(cmd.InteractionFinished)) == 2, 20, "the second call finished")
    second = live.of(cmd.InteractionFinished)[1]
    assert second.outcome == "answered" and second.queue == "q_norec"
    await asyncio.sleep(1.5)
    assert set(outside.rglob("*.wav")) == before
    assert second.interaction_id not in recorder.measured and not recorder.pending


def band_rms(path: Path, low: int, high: int) -> float:
    """RMS of `path` within low..high Hz (sox sinc band-pass, then stat)."""
    out = subprocess.run(
        ["sox", str(path), "-n", "sinc", f"{low}-{high}", "stat"], capture_output=True, text=True, check=True
    ).stderr
    for line in out.splitlines():
        if line.startswith("RMS") and "amplitude" in line:
            return float(line.split(":")[1])
    raise AssertionError(out)


# Who speaks which tone, and the band (Hz) that measures it in what someone hears.
# ccr-console-test-caller plays 440 Hz, ccr-console-test-agent 700 Hz; the supervisor's
# phone plays a 1000 Hz file made here.
BANDS = {"caller": (380, 500), "agent": (640, 760), "supervisor": (940, 1060)}
SUPERVISOR_HZ = 1000
HEARD, SILENT = 0.02, 0.002
"""RMS (full scale 1) of a tone that is heard (each speaks at about 0.15) and of one that
is not (what a band-pass lets through of the other tones is below 0.001)."""


async def test_listen_whisper_barge(
    recorded: tuple[LiveService, Recorder, Path], admin: AmiAdmin, sandbox_settings: SandboxSettings
) -> None:
    """Caller, agent and the supervisor's phone each speak a tone of their own; in each
    mode the audio each of them receives is recorded and measured band by band."""
    from cc_router.console.monitor import MonitorMode, Monitors

    live, _, outside = recorded
    inside = "/" + str(outside.relative_to(sandbox_settings.root))
    outside.mkdir(parents=True, exist_ok=True)
    # Asterisk's .wav: 8 kHz, 16-bit, mono. Two seconds, looped by the phone.
    wav = ["-r", "8000", "-c", "1", "-b", "16", str(outside / "sup-tone.wav")]
    subprocess.run(["sox", "-n", *wav, "synth", "2", "sine", str(SUPERVISOR_HZ), "vol", "0.2"], check=True)
    await admin.action(
        {"Action": "DBPut", "Family": "ccrtest", "Key": "phone/sup1", "Val": f"{inside}/sup-tone"}
    )
    live.config.console.phones["boss"] = "Local/sup1@ccr-console-test-phone/n"
    monitors = Monitors(live.service, live.nodes)
    watcher = asyncio.create_task(monitors.run())
    try:
        live.login("ea8")
        await _call(admin, "20092", "13800000093")  # q_norec: only this test's own recordings
        await wait_until(lambda: len(live.of(cmd.InteractionConnected)) == 1, 20, "the call connected")
        iid = live.of(cmd.InteractionConnected)[0].interaction_id
        leg = live.node.registry.by_iid[iid]
        assert leg.agent_leg is not None

        async def far_end(channel: str) -> str:
            # What a party hears is what the far (;2) half of its Local channel receives:
            # whisper and barge audio is mixed in on the near half.
            r = await admin.action({"Action": "Getvar", "Channel": channel, "Variable": "CHANNEL(name)"})
            name = str(r.get("Value", ""))
            assert name.endswith(";1"), (channel, r)
            return name[:-1] + "2"

        m = await monitors.start("ea8", "boss", MonitorMode.LISTEN)

        async def answered() -> bool:
            r = await admin.action({"Action": "Getvar", "Channel": m.spy_id, "Variable": "CHANNEL(state)"})
            return bool(r.get("Value") == "Up")

        for _ in range(50):
            if await answered():
                break
            await asyncio.sleep(0.2)
        assert await answered(), "the supervisor's phone never answered"
        hearing = {
            "caller": await far_end(leg.channel),
            "agent": await far_end(leg.agent_leg.channel_id),
            "supervisor": await far_end(m.spy_id),
        }
        target = (
            await admin.action(
                {"Action": "Getvar", "Channel": leg.agent_leg.channel_id, "Variable": "CHANNEL(name)"}
            )
        )["Value"]

        async def spying() -> str:
            """ChanSpy's arguments on the supervisor's leg (the same leg throughout)."""
            legs = [c for c in await admin.channels() if c.get("Uniqueid") == m.spy_id]
            assert len(legs) == 1, "the supervisor's leg is gone"
            assert legs[0].get("Application") == "ChanSpy", legs[0]
            return str(legs[0].get("ApplicationData"))

        # levels[mode][listener][speaker]: RMS of the speaker's band in what the listener hears.
        levels: dict[str, dict[str, dict[str, float]]] = {}
        for mode in (MonitorMode.LISTEN, MonitorMode.WHISPER, MonitorMode.BARGE):
            if mode is not MonitorMode.LISTEN:
                await monitors.switch("ea8", mode)
                assert monitors.active["ea8"].spy_id == m.spy_id  # same leg: not hung up
            await asyncio.sleep(1.0)  # ChanSpy (re)attached
            options = {MonitorMode.LISTEN: "", MonitorMode.WHISPER: "w", MonitorMode.BARGE: "B"}[mode]
            assert await spying() == f"{target},qdES{options}"
            for who, channel in hearing.items():
                reply = await admin.action(
                    {
                        "Action": "MixMonitor",
                        "Channel": channel,
                        "File": f"{inside}/{mode}-{who}-mix.wav",
                        "Options": f"r({inside}/{mode}-{who}-hears.wav)",
                    }
                )
                assert reply.get("Response") == "Success", (who, reply)
            await asyncio.sleep(3.0)
            for channel in hearing.values():
                await admin.action({"Action": "StopMixMonitor", "Channel": channel})
            await asyncio.sleep(0.5)
            levels[mode] = {
                listener: {
                    speaker: band_rms(outside / f"{mode}-{listener}-hears.wav", *band)
                    for speaker, band in BANDS.items()
                }
                for listener in hearing
            }
        assert await answered(), "switching modes hung the supervisor up"
        print("RMS by mode, listener, speaker:", levels)

        for mode, by_listener in levels.items():
            # The call itself: caller and agent hear each other in every mode ...
            assert by_listener["caller"]["agent"] > HEARD and by_listener["agent"]["caller"] > HEARD, mode
            # ... and the supervisor hears both of them.
            assert by_listener["supervisor"]["caller"] > HEARD, mode
            assert by_listener["supervisor"]["agent"] > HEARD, mode
        # Listen: the supervisor is heard by neither side.
        assert levels["listen"]["caller"]["supervisor"] < SILENT
        assert levels["listen"]["agent"]["supervisor"] < SILENT
        # Whisper: by the agent, not by the caller.
        assert levels["whisper"]["agent"]["supervisor"] > HEARD
        assert levels["whisper"]["caller"]["supervisor"] < SILENT
        # Barge: by both.
        assert levels["barge"]["agent"]["supervisor"] > HEARD
        assert levels["barge"]["caller"]["supervisor"] > HEARD

        # The supervisor hangs up: the monitor ends by itself.
        await admin.action({"Action": "Hangup", "Channel": m.spy_id})
        await wait_until(lambda: "ea8" not in monitors.active, 5, "the monitor noticed the hang-up")
    finally:
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)
        await admin.hangup_all(lambda ch: "ccr-console-test" in ch.get("Channel", ""))
        await admin.action({"Action": "DBDel", "Family": "ccrtest", "Key": "phone/sup1"})
