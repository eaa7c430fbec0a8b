"""The demo's compressed day and its simulated agents' set-up (no Asterisk: the CLI calls
are counted, not sent)."""

from __future__ import annotations

import random

import pytest

from cc_router import demo
from cc_router.config import loads_config
from cc_router.sandbox.provision import SandboxSettings
from cc_router.service import Service


def test_the_day_has_two_peaks_and_a_quiet_evening() -> None:
    shares = [demo.day_share(t, 600) for t in range(0, 600, 5)]
    morning = max(demo.day_share(t, 600) for t in range(0, 40))
    assert morning > 2.4  # the first peak within 40 s: queues build in the first minute
    assert demo.day_share(0, 600) > 1.2  # the day opens on the morning's rise
    assert demo.day_share(150, 600) < 0.8  # lunch
    assert max(demo.day_share(t, 600) for t in range(200, 350, 5)) > 1.8  # afternoon peak
    assert demo.day_share(540, 600) < 0.3  # evening
    assert abs(sum(shares) / len(shares) - 1.0) < 0.2  # about the configured base rate over the day
    assert demo.day_share(600, 600) == demo.day_share(0, 600)  # and the day repeats


def test_simulated_agents_need_few_astdb_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    agents = "\n".join(f'  - {{id: "a{i:04d}"}}' for i in range(500))
    config = loads_config(f"agents:\n{agents}\n", env={})
    sent: list[str] = []
    monkeypatch.setattr(demo, "cli", lambda settings, line: sent.append(line))
    traffic = demo.DemoTraffic(Service.from_config(config), config, SandboxSettings())
    traffic.set_agent_behaviour(random.Random(1))
    # Defaults for all, then ring/talk/answer for a sample: not 3 keys per agent.
    assert len(sent) == 4 + 3 * demo.OWN_BEHAVIOUR
    assert sent[:4] == [
        "database deltree ccrsim",
        "database put ccrsim default/ring 2",
        "database put ccrsim default/talk 40",
        "database put ccrsim default/answer 1",
    ]
