"""One call to simulate a config under a traffic file."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from cc_router.core.router import Router
from cc_router.core.spec import CentreSpec
from cc_router.sim.arrivals import poisson_arrivals
from cc_router.sim.engine import RouterFactory, SimResult, Simulation
from cc_router.sim.traffic import Traffic


def simulate(
    centre: CentreSpec,
    traffic: Traffic,
    *,
    seed: int = 1,
    tz: ZoneInfo | None = None,
    router_factory: RouterFactory = Router,
    hours: tuple[float, float] | None = None,
    progress: bool | None = None,
    label: str = "simulating",
) -> SimResult:
    """Simulate `traffic.days` days from `traffic.date` (or only `hours` = (from, to) of
    the first day, e.g. (9, 11) for the morning peak) with generated Poisson arrivals."""
    zone = tz or ZoneInfo("UTC")
    traffic.check_against({q.name: q for q in centre.queues})
    day_starts = traffic.day_starts(zone)
    start, end = day_starts[0], day_starts[-1]
    if hours is not None:
        start, end = day_starts[0] + hours[0] * 3600.0, day_starts[0] + hours[1] * 3600.0
    queues = [q.name for q in centre.queues]
    arrivals = poisson_arrivals(traffic, queues, day_starts, seed)
    sim = Simulation(
        centre,
        traffic,
        arrivals,
        start=start,
        end=end,
        day_starts=day_starts,
        seed=seed,
        tz=zone,
        router_factory=router_factory,
        progress=progress,
        label=label,
    )
    return sim.run()
