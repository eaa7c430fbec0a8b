"""Routing-quality and simulator-speed benchmark: `sim_bench_rows()` (JSON-ready dicts).

Every case runs in its own process so peak RSS is that case's alone. Cases:
- the standard mixed-skill day (`cc_router.sim.scenario`: 2,000 agents, 20 skills,
  VIP priority, two widening steps) under cc-router's core, and under the app_queue
  model (per-skill queues, penalties, queue_rules) with each of its strategies; same
  staffing, identical arrivals (same seed);
- the simulator's own speed: wall time for the 2,000-seat day, and 1 and 2 hours of the
  20,000-seat day extrapolated to the whole day (labelled as extrapolated), with peak
  RSS to show memory does not grow with simulated time.

`python -m cc_router.sim.bench [case...]` prints one JSON line per case.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from typing import Any
from zoneinfo import ZoneInfo

PEAK_OCCUPANCY = 0.97
"""A busy day: with every queue's fair share of agents they would be 97 % busy at peak."""
TZ = ZoneInfo("Asia/Shanghai")

CASES: dict[str, dict[str, Any]] = {
    "day2000_ccrouter": {"agents": 2000, "router": "ccrouter"},
    "day2000_app_queue_mapped": {"agents": 2000, "router": "app_queue"},
    "peak2000_ccrouter": {"agents": 2000, "router": "ccrouter", "hours": (9, 12)},
    **{
        f"peak2000_app_queue_{s}": {"agents": 2000, "router": "app_queue", "strategy": s, "hours": (9, 12)}
        for s in ("leastrecent", "fewestcalls", "rrmemory", "linear", "random")
    },
    "peak2000_app_queue_leastrecent_nowiden": {
        "agents": 2000,
        "router": "app_queue",
        "strategy": "leastrecent",
        "widen": False,
        "hours": (9, 12),
    },
    "day20000_1h": {"agents": 20000, "router": "ccrouter", "hours": (10, 11)},
    "day20000_2h": {"agents": 20000, "router": "ccrouter", "hours": (10, 12)},
}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_case(name: str) -> dict[str, Any]:
    from cc_router.sim.app_queue import AppQueueOptions, AqStrategy, app_queue_factory
    from cc_router.sim.run import simulate
    from cc_router.sim.scenario import expected_arrivals, mixed_centre, mixed_traffic

    case = CASES[name]
    t0 = time.perf_counter()
    centre = mixed_centre(case["agents"])
    traffic = mixed_traffic(centre, PEAK_OCCUPANCY)
    setup_s = time.perf_counter() - t0
    kwargs: dict[str, Any] = {}
    router = case["router"]
    if router == "app_queue":
        strategy = case.get("strategy")
        opts = AppQueueOptions(
            strategy=AqStrategy(strategy) if strategy else None,
            widen=case.get("widen", True),
            seed=centre.routing.seed,
        )
        kwargs["router_factory"] = app_queue_factory(opts)
        router = f"app_queue ({strategy or 'mapped from each queue'}"
        router += ", no queue_rules)" if not case.get("widen", True) else ", penalties + queue_rules)"
    hours = case.get("hours")
    result = simulate(centre, traffic, seed=1, tz=TZ, hours=hours, progress=False, **kwargs)
    s = result.summary()
    row: dict[str, Any] = {
        "name": f"sim_{name}",
        "router": router,
        "agents": case["agents"],
        "queues": len(centre.queues),
        "skills": len(centre.skills),
        "window": f"{hours[0]:02d}:00-{hours[1]:02d}:00" if hours else "00:00-24:00",
        "interactions": s["arrivals"],
        "sl_pct": s["sl_pct"],
        "asa_s": s["asa_s"],
        "abandoned": s["abandoned"],
        "abandon_pct": s["abandon_pct"],
        "timed_out": s["timed_out"],
        "occ_mean": s["occ_mean"],
        "occ_stddev": s["occ_stddev"],
        "occ_min": s["occ_min"],
        "occ_max": s["occ_max"],
        "router_events": s["router_events"],
        "wall_s": round(result.wall_s, 2),
        "setup_s": round(setup_s, 2),
        "interactions_per_wall_s": round(s["arrivals"] / result.wall_s) if result.wall_s else None,
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }
    if hours:
        day = expected_arrivals(traffic)
        window = expected_arrivals(traffic, (float(hours[0]), float(hours[1])))
        row["day_interactions_expected"] = round(day)
        if name.startswith("day20000"):
            row["extrapolated_day_wall_s"] = round(result.wall_s * day / max(1, s["arrivals"]), 1)
            row["note"] = (
                f"EXTRAPOLATED: {hours[1] - hours[0]} h of the day ({round(window)} expected interactions) "
                "scaled by the day's expected interactions"
            )
    return row


def sim_bench_rows(cases: list[str] | None = None) -> list[dict[str, Any]]:
    """Run each case in a fresh interpreter; a failed case gives a row with its error."""
    rows = []
    for name in cases or list(CASES):
        proc = subprocess.run(
            [sys.executable, "-m", "cc_router.sim.bench", "--one", name],
            capture_output=True,
            text=True,
            check=False,
        )
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
        if proc.returncode == 0 and lines:
            rows.append(json.loads(lines[-1]))
        else:
            rows.append({"name": f"sim_{name}", "error": (proc.stderr or proc.stdout)[-2000:]})
    return rows


def main(argv: list[str]) -> None:
    if len(argv) == 2 and argv[0] == "--one":
        print(json.dumps(run_case(argv[1]), ensure_ascii=False), flush=True)
        return
    for row in sim_bench_rows(argv or None):
        print(json.dumps(row, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
