"""The simulator driving the production core reproduces queueing theory (M/M/N and
M/M/N+M), with enough simulated days for the stated tolerances."""

from __future__ import annotations

from typing import Any

import pytest

from cc_router.core.spec import AgentSpec, CentreSpec, ProfileSpec, QueueSpec
from cc_router.sim.erlang import erlang_a_metrics, erlang_c_metrics
from cc_router.sim.run import simulate
from cc_router.sim.traffic import parse_traffic

AGENTS, AHT, RATE_PER_HOUR, THRESHOLD = 14, 180.0, 200.0, 20.0  # A = 10 Erlang
DAYS = 20


def single_queue() -> CentreSpec:
    return CentreSpec(
        skills=frozenset({"s"}),
        profiles={"voice": ProfileSpec("voice")},
        agents=tuple(AgentSpec(f"a{i}", skills={"s": 1}) for i in range(AGENTS)),
        queues=(QueueSpec("q", requirement="s", service_level_s=THRESHOLD),),
    )


def run(patience: dict[str, Any]) -> dict[str, Any]:
    traffic = parse_traffic(
        {
            "days": DAYS,
            "defaults": {"handle": {"dist": "exponential", "mean_s": AHT}, "patience": patience},
            "queues": {"q": {"rate_per_hour": RATE_PER_HOUR}},
        }
    )
    result = simulate(single_queue(), traffic, seed=1, progress=False)
    assert result.rejected == 0
    assert result.unfinished == 0
    return result.summary()


def test_m_m_n_matches_erlang_c() -> None:
    s = run({"dist": "none"})
    theory = erlang_c_metrics(RATE_PER_HOUR * AHT / 3600, AGENTS, AHT, THRESHOLD)
    assert s["offered"] > 90_000
    assert s["sl_pct"] / 100 == pytest.approx(theory.service_level, abs=0.01)
    assert s["p_wait"] == pytest.approx(theory.p_wait, abs=0.01)
    assert s["occ_mean"] == pytest.approx(theory.occupancy, abs=0.01)


def test_m_m_n_m_matches_erlang_a() -> None:
    s = run({"dist": "exponential", "mean_s": 120})
    theory = erlang_a_metrics(RATE_PER_HOUR * AHT / 3600, AGENTS, AHT, 120.0, THRESHOLD)
    assert s["sl_pct"] / 100 == pytest.approx(theory.service_level, abs=0.02)
    assert s["p_wait"] == pytest.approx(theory.p_wait, abs=0.02)
    assert s["abandon_pct"] / 100 == pytest.approx(theory.p_abandon, abs=0.02)
