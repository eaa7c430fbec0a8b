"""The expected-wait measurement in the simulator, and app_queue's method beside it."""

from __future__ import annotations

from pathlib import Path

import pytest

from cc_router.core import commands as cmd
from cc_router.core.spec import CentreSpec, Channel
from cc_router.sim.ewt import EwtProbe, example_day_case, measure, single_skill_case

ROOT = Path(__file__).resolve().parents[2]


def test_app_queue_holdtime_is_its_exponential_average_of_waits() -> None:
    case = single_skill_case(agents=2)
    probe = EwtProbe(case.centre)
    for i, wait in enumerate((40, 80, 0)):
        probe.on_connected(cmd.InteractionConnected(f"x{i}", "a0", "q", Channel.VOICE, wait + 0.9, 100.0))
    # First call sets it; then (3 * old + new) >> 2 in whole seconds, as app_queue.c does.
    assert probe.holdtimes["q"].holdtime == (3 * ((3 * 40 + 80) >> 2) + 0) >> 2 == 37


def test_single_skill_estimate_beats_the_running_average() -> None:
    row = measure(single_skill_case(hours=2.0))
    queued = row["queued_on_entry"]
    ours, theirs = queued["cc_router"], queued["app_queue"]
    assert ours["callers"] == theirs["callers"] > 100
    assert ours["unknown"] == 0
    assert ours["mae_s"] < theirs["mae_s"]
    assert ours["within_30s_pct"] > theirs["within_30s_pct"]
    assert abs(ours["bias_s"]) < 15
    assert row["all_answered"]["cc_router"]["callers"] >= ours["callers"]


def test_example_day_measures_every_method_on_the_same_callers() -> None:
    row = measure(example_day_case(str(ROOT), (9.0, 10.0)))
    assert row["name"] == "ewt_example_day" and row["arrivals"] > 300
    figures = row["all_answered"]
    counted = {m: f["callers"] + f["unknown"] for m, f in figures.items()}
    assert len(set(counted.values())) == 1, counted  # the same answered callers for each
    assert figures["cc_router"]["mae_s"] is not None


def test_supply_kept_event_by_event_matches_a_recount() -> None:
    """After a simulated hour of logins, pauses, calls and wrap-ups, the free slots and
    rates the estimator kept agent by agent are those a recount from the router finds."""
    from cc_router.core.estimate import Estimator
    from cc_router.sim.run import simulate

    probes: list[EwtProbe] = []

    def factory(centre: CentreSpec) -> EwtProbe:
        probes.append(EwtProbe(centre))
        return probes[-1]

    case = example_day_case(str(ROOT), (9.0, 10.0))
    simulate(case.centre, case.traffic, tz=case.tz, hours=case.hours, progress=False, router_factory=factory)
    kept = probes[0].estimator
    # Handle-time priors reach agents nothing happened to in turn, a few per batch.
    kept.roll(len(kept.router.agents))
    recount = Estimator(kept.router)
    recount.handle = kept.handle
    pools = list(kept.router.pools.values())
    for p in pools:
        a, b = kept.supply_of(p), recount.supply_of(p)
        assert (a is None) == (b is None), p
        if a is not None and b is not None:
            assert a.free == b.free, p
            assert a.rate == pytest.approx(b.rate, rel=1e-6), p
