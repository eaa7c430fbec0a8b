"""Cost of the live view + metrics sinks per routing event: `python -m cc_router.live.bench`.

Prints one JSON line per centre size: microseconds per `service.submit` without and with
`LiveView` and `Metrics` attached (arrive, accept, end on one queue of three).
"""

from __future__ import annotations

import json
import time

from cc_router.config import Config, loads_config
from cc_router.core import commands as cmd
from cc_router.core import events as ev
from cc_router.http.metrics import Metrics
from cc_router.live import LiveView
from cc_router.service import Service


def _config(n_agents: int) -> Config:
    agents = "\n".join(
        f'  - {{id: "a{i}", skills: {{billing: 3, lang_zh: {1 + i % 5}}}}}' for i in range(n_agents)
    )
    text = (
        "skills: [lang_zh, billing]\nagents:\n" + agents + "\nqueues:\n"
        '  - {name: q1, requirement: "billing"}\n'
        '  - {name: q2, requirement: "lang_zh >= 3"}\n'
        '  - {name: q3, requirement: "lang_zh"}\n'
    )
    return loads_config(text, env={})


def per_event_us(config: Config, attach: bool, calls: int) -> float:
    s = Service.from_config(config)
    if attach:
        live = LiveView.attach(s)
        Metrics(live).attach(s)
    for a in config.agents:
        s.submit(ev.AgentLoggedIn(a.id))
    n = 0
    t0 = time.perf_counter()
    for k in range(calls):
        out = s.submit(ev.InteractionArrived(f"c{k}", "q1"))
        n += 1
        for c in out:
            if isinstance(c, cmd.Offer):
                s.submit(ev.OfferAccepted(c.interaction_id, c.agent_id))
                s.submit(ev.InteractionEnded(c.interaction_id))
                n += 2
    return (time.perf_counter() - t0) / n * 1e6


def main() -> None:
    for n in (200, 2000, 20000):
        config = _config(n)
        bare = min(per_event_us(config, False, 20000) for _ in range(3))
        live = min(per_event_us(config, True, 20000) for _ in range(3))
        print(
            json.dumps(
                {"agents": n, "us_per_event_bare": round(bare, 2), "us_per_event_live": round(live, 2)}
            )
        )


if __name__ == "__main__":
    main()
