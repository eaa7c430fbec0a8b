"""The replay that measures router CPU per call without the host's noise."""

from __future__ import annotations

from pathlib import Path

import pytest

from cc_router.bench.ami_replay import leg_token, replay_cpu_s
from cc_router.config import parse_config

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "ami" / "a_connect.ami"


def test_leg_token() -> None:
    assert leg_token(b"Event: Newchannel\r\nUniqueid: ccr-0a1b2c-1\r\n") == "0a1b2c"
    assert leg_token(b"Event: Newchannel\r\nUniqueid: ccr-0a1b2c-2\r\n") is None
    assert leg_token(b"") is None


@pytest.mark.asyncio
async def test_replay_admits_the_recorded_caller(tmp_path: Path) -> None:
    config = parse_config(
        {
            "skills": ["lang_zh"],
            "agents": [{"id": "1001", "skills": {"lang_zh": 5}}],
            "queues": [{"name": "support", "requirement": "lang_zh"}],
            "numbers": {"10086": {"queue": "support"}},
            "asterisk": [{"name": "ast1", "port": 15038, "secret": "x"}],
            "store": {"url": f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"},
        }
    )
    data = FIXTURE.read_bytes()
    reads = [data[i : i + 1500] for i in range(0, len(data), 1500)]
    cpu_s, arrived = await replay_cpu_s(config, reads, ["1001"])
    assert arrived == 1
    assert 0.0 <= cpu_s < 5.0
