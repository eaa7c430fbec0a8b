"""Where callers come from: Poisson streams from a traffic file, or recorded traffic."""

from __future__ import annotations

import bisect
import heapq
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from cc_router.sim.traffic import INTERVAL_S, Traffic


@dataclass(frozen=True, slots=True)
class Arrival:
    at: float
    queue: str
    handle_s: float
    patience_s: float
    """inf: never gives up."""
    priority: int = 0
    caller: str = ""
    attributes: Mapping[str, str] = field(default_factory=dict)


class _Stream:
    """One queue's non-homogeneous Poisson process, piecewise constant per interval.

    Memorylessness lets a gap that crosses an interval boundary be redrawn from the
    boundary at the new rate, so only the next arrival is ever held.
    """

    def __init__(self, rates: Sequence[float], day_starts: Sequence[float], rng: random.Random) -> None:
        self.rates = rates
        self.day_starts = day_starts
        self.rng = rng
        self.end = day_starts[-1]

    def next_after(self, t: float) -> float | None:
        starts = self.day_starts
        n = len(self.rates)
        while t < self.end:
            d = bisect.bisect_right(starts, t) - 1
            k = min(int((t - starts[d]) // INTERVAL_S), n - 1)
            boundary = min(starts[d] + (k + 1) * INTERVAL_S, starts[d + 1])
            if k == n - 1:
                boundary = starts[d + 1]
            rate = self.rates[k]
            if rate > 0:
                nxt = t + self.rng.expovariate(rate)
                if nxt < boundary:
                    return nxt
            t = boundary
        return None


def poisson_arrivals(
    traffic: Traffic, queues: Sequence[str], day_starts: Sequence[float], seed: int
) -> Iterator[Arrival]:
    """Arrivals of every queue in time order. Each queue has its own random streams (one
    for arrival times, one for caller behaviour), so two runs with the same seed get
    identical callers whatever else differs (the routing, other queues' traffic)."""
    heap: list[tuple[float, int]] = []
    streams: list[_Stream] = []
    callers: list[random.Random] = []
    for qi, q in enumerate(queues):
        qt = traffic.queues.get(q)
        rates = qt.rates_per_s(traffic.scale, traffic.shape) if qt is not None else [0.0]
        s = _Stream(rates, day_starts, random.Random(f"{seed}:arrivals:{q}"))
        streams.append(s)
        callers.append(random.Random(f"{seed}:callers:{q}"))
        t = s.next_after(day_starts[0])
        if t is not None:
            heap.append((t, qi))
    heapq.heapify(heap)
    handles = [traffic.handle_of(q).sampler() for q in queues]
    patiences = [traffic.patience_of(q).sampler() for q in queues]
    prios = [(traffic.queues[q].priority if q in traffic.queues else 0) for q in queues]
    attrs = [dict(traffic.queues[q].attributes) if q in traffic.queues else {} for q in queues]
    n = 0
    while heap:
        t, qi = heap[0]
        rng = callers[qi]
        n += 1
        yield Arrival(
            t, queues[qi], handles[qi].draw(rng), patiences[qi].draw(rng), prios[qi], f"c{n}", attrs[qi]
        )
        nxt = streams[qi].next_after(t)
        if nxt is None:
            heapq.heappop(heap)
        else:
            heapq.heapreplace(heap, (nxt, qi))
