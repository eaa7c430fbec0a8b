"""`cc-router top` against a running test server, piped (no TTY)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from cc_router.core import events as ev
from tests.http.centre import load, make_service, running, write_centre

pytestmark = pytest.mark.asyncio


async def test_top_prints_queues_and_agents(tmp_path: Path) -> None:
    service = make_service(load(write_centre(tmp_path)))
    service.submit(ev.AgentLoggedIn("1001"))
    service.submit(ev.InteractionArrived("c1", "sales", caller="13800138000"))
    async with running(service) as (base, _):
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "cc_router.cli.main",
            "top",
            "--url",
            base,
            "--duration",
            "2",
            "--interval",
            "0.5",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={"COLUMNS": "160", "PATH": "/usr/bin:/bin", "PYTHONIOENCODING": "utf-8"},
        )
        out, err = await asyncio.wait_for(proc.communicate(), 20)
    text = out.decode()
    assert proc.returncode == 0, err.decode()
    assert "billing" in text and "sales" in text
    assert "EWT" in text  # expected wait of a new caller, per queue
    assert "张伟" in text and "1001" in text
    assert text.count("queues") >= 2  # refreshed more than once
