"""Fixtures for tests against the real Asterisk sandbox (cc_router.sandbox).

``sandbox`` (session): brings the sandbox up (builds the cached root on first use, ~1 min)
and yields its SandboxStatus; it is stopped at the end only if this session started it.
``ami_tap``: a minimal raw AMI reader that decodes whole messages (never a TCP chunk on
its own, so UTF-8 caller names survive) for asserting on events.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from cc_router.sandbox import SandboxError, SandboxSettings, SandboxStatus, ensure_sipp, status, up
from cc_router.sandbox import down as sandbox_down

SIPP_DIR = Path(__file__).resolve().parents[1] / "sipp"

Event = dict[str, str]


@pytest.fixture(scope="session")
def sandbox_settings() -> SandboxSettings:
    return SandboxSettings()


@pytest.fixture(scope="session")
def sandbox(sandbox_settings: SandboxSettings) -> Iterator[SandboxStatus]:
    if os.geteuid() != 0:
        pytest.skip("the Asterisk sandbox needs root")
    was_running = status(sandbox_settings).running
    try:
        st = up(sandbox_settings)
        ensure_sipp()
    except SandboxError as exc:
        pytest.fail(f"Asterisk sandbox: {exc}")
    yield st
    if not was_running:
        sandbox_down(sandbox_settings)


class AmiTap:
    """Reads and decodes whole AMI messages; sends actions; waits for matching events."""

    def __init__(self, settings: SandboxSettings) -> None:
        self.settings = settings
        self.messages: list[Event] = []
        self._cond = asyncio.Condition()
        self._ids = itertools.count(1)
        self._task: asyncio.Task[None] | None = None

    async def connect(self) -> Event:
        self._reader, self._writer = await asyncio.open_connection("127.0.0.1", self.settings.ami_port)
        banner = await self._reader.readline()
        assert banner.startswith(b"Asterisk Call Manager"), banner
        self._task = asyncio.create_task(self._read())
        aid = await self.send("Login", Username=self.settings.ami_user, Secret=self.settings.ami_secret)
        return await self.response(aid)

    async def _read(self) -> None:
        buf = b""
        while data := await self._reader.read(65536):
            buf += data
            async with self._cond:
                while b"\r\n\r\n" in buf:
                    block, buf = buf.split(b"\r\n\r\n", 1)
                    msg: Event = {}
                    for line in block.decode("utf-8").split("\r\n"):
                        key, sep, value = line.partition(": ")
                        if sep:
                            msg.setdefault(key, value)
                    self.messages.append(msg)
                self._cond.notify_all()

    async def send(self, action: str, **headers: str | list[str]) -> str:
        aid = f"t{next(self._ids)}"
        lines = [f"Action: {action}", f"ActionID: {aid}"]
        for key, value in headers.items():
            values = value if isinstance(value, list) else [value]
            lines.extend(f"{key}: {v}" for v in values)
        self._writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        await self._writer.drain()
        return aid

    async def wait_for(self, pred: Callable[[Event], bool], timeout: float = 10.0) -> Event:
        deadline = time.monotonic() + timeout
        seen = 0
        async with self._cond:
            while True:
                for msg in self.messages[seen:]:
                    if pred(msg):
                        return msg
                seen = len(self.messages)
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("no matching AMI message")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._cond.wait(), left)

    async def response(self, aid: str, timeout: float = 5.0) -> Event:
        return await self.wait_for(lambda m: m.get("ActionID") == aid and "Response" in m, timeout)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
        self._writer.close()


@pytest_asyncio.fixture
async def ami_tap(sandbox: SandboxStatus, sandbox_settings: SandboxSettings) -> AsyncIterator[AmiTap]:
    tap = AmiTap(sandbox_settings)
    resp = await tap.connect()
    assert resp["Response"] == "Success", resp
    yield tap
    await tap.close()


def user_event(name: str) -> Callable[[Event], bool]:
    return lambda m: m.get("Event") == "UserEvent" and m.get("UserEvent") == name


async def sipp_caller(
    settings: SandboxSettings,
    number: str,
    hold_ms: int,
    *,
    name: str,
    num: str,
    port: int,
) -> asyncio.subprocess.Process:
    """One SIPp call into ccr-inbound (tests/sipp/caller.xml), on hold for hold_ms."""
    return await asyncio.create_subprocess_exec(
        "sipp", "-sf", str(SIPP_DIR / "caller.xml"), "-s", number,
        "-i", "127.0.0.1", "-p", str(port), "-m", "1", "-nostdin",
        "-recv_timeout", str(hold_ms), "-key", "cname", name, "-key", "cnum", num,
        settings.sip,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        cwd="/tmp",
    )  # fmt: skip
