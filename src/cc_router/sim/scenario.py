"""The standard mixed-skill day used by the routing-quality benchmark.

Voice only (app_queue, the comparison, is voice only): languages x lines of business as
skills, one queue per line of business in Mandarin and per main line in the other
languages, a VIP queue with priority, requirements that widen in two steps. Arrival
rates are set from the staffing: each agent's time is shared equally among the queues
it can serve at their first step, so every queue is staffed for its traffic (at the
peak the centre runs near `peak_occupancy`) and differences come from routing.
"""

from __future__ import annotations

import random
from typing import Any

from cc_router.core.expr import SkillIndex, parse
from cc_router.core.spec import (
    AgentSpec,
    CentreSpec,
    ProfileSpec,
    QueueSpec,
    RoutingSpec,
    StepSpec,
    Strategy,
)
from cc_router.sim.traffic import Traffic, clock_s, parse_traffic

LANGS = (("lang_zh", 0.84), ("lang_en", 0.06), ("lang_yue", 0.05), ("lang_henan", 0.05))
LOBS = (
    ("billing", 0.18), ("sales", 0.12), ("tech", 0.12), ("broadband", 0.08), ("data_plans", 0.08),
    ("roaming", 0.05), ("complaints", 0.06), ("retention", 0.04), ("payments", 0.06), ("devices", 0.05),
    ("enterprise", 0.04), ("porting", 0.03), ("iot", 0.02), ("family", 0.04), ("prepaid", 0.03),
)  # fmt: skip
MAIN_LOBS = ("billing", "sales", "tech")
SKILLS = frozenset([*(s for s, _ in LANGS), *(s for s, _ in LOBS), "vip"])
SHIFTS: list[dict[str, Any]] = [
    {"start": "00:00", "end": "08:00", "share": 0.05},
    {"start": "07:00", "end": "16:00", "share": 0.5},
    {"start": "09:00", "end": "18:00", "share": 0.7},
    {"start": "13:00", "end": "22:00", "share": 0.75},
    {"start": "17:00", "end": "24:00"},
]
"""Shares are of the agents not already on a shift, as in the traffic file."""
AHT_S = 240.0


def mixed_centre(
    agents: int = 2_000, seed: int = 7, strategy: Strategy = Strategy.LONGEST_IDLE
) -> CentreSpec:
    rng = random.Random(seed)
    lang_names = [s for s, _ in LANGS]
    lang_w = [w for _, w in LANGS]
    lob_names = [s for s, _ in LOBS]
    lob_w = [w for _, w in LOBS]
    rows = []
    for i in range(agents):
        lang = rng.choices(lang_names, lang_w)[0]
        skills = {lang: rng.randint(3, 10)}
        if lang != "lang_zh":
            skills["lang_zh"] = rng.randint(3, 7)
        for _ in range(rng.choice((1, 1, 2, 2, 3))):
            skills[rng.choices(lob_names, lob_w)[0]] = rng.randint(2, 9)
        if rng.random() < 0.08:
            skills["vip"] = rng.randint(3, 10)
        rows.append(AgentSpec(str(100_000 + i), pool=f"floor{i // 500 + 1:02d}", skills=skills))
    queues = []
    for lob in lob_names:
        queues.append(_queue(f"{lob}_zh", "lang_zh", lob, strategy))
    for lang in lang_names[1:]:
        for lob in MAIN_LOBS:
            queues.append(_queue(f"{lob}_{lang.removeprefix('lang_')}", lang, lob, strategy))
    queues.append(
        QueueSpec(
            "vip_zh",
            requirement="vip and lang_zh >= 4",
            priority=10,
            strategy=Strategy.BEST_SKILL,
            service_level_s=10,
            wrapup_s=5,
            steps=(StepSpec(15, "lang_zh >= 6"), StepSpec(40, "lang_zh >= 4", priority_boost=5)),
        )
    )
    return CentreSpec(
        skills=SKILLS,
        profiles={"voice": ProfileSpec("voice")},
        agents=tuple(rows),
        queues=tuple(queues),
        routing=RoutingSpec(seed=seed),
    )


def _queue(name: str, lang: str, lob: str, strategy: Strategy) -> QueueSpec:
    return QueueSpec(
        name,
        requirement=f"{lang} >= 3 and {lob} >= 4",
        strategy=strategy,
        service_level_s=20,
        wrapup_s=5,
        steps=(
            StepSpec(20, f"{lang} >= 3 and {lob} >= 2"),
            StepSpec(60, f"{lang} >= 4", priority_boost=1),
        ),
        max_wait_s=600,
    )


def coverage(shifts: list[dict[str, Any]]) -> list[float]:
    """Share of agents on shift in each 15-minute interval of the day."""
    remaining = 1.0
    cover = [0.0] * 96
    for sh in shifts:
        part = remaining * float(sh.get("share", 1.0))
        remaining -= part
        lo, hi = clock_s(sh["start"]) / 900, clock_s(sh["end"]) / 900
        for k in range(int(lo), int(hi)):
            cover[k] += part
    return cover


def mixed_traffic(centre: CentreSpec, peak_occupancy: float = 0.85) -> Traffic:
    """Traffic sized to the centre: agents on shift would be `peak_occupancy` busy (before
    breaks) if every queue got its fair share of the agents who can serve it."""
    index = SkillIndex()
    for a in centre.agents:
        index.add(a.id, a.skills)
    share: dict[str, float] = {}
    serves: dict[str, list[str]] = {a.id: [] for a in centre.agents}
    for q in centre.queues:
        for aid in index.members(parse(q.requirement, centre.skills)):
            serves[aid].append(q.name)
    for names in serves.values():
        for name in names:
            share[name] = share.get(name, 0.0) + 1.0 / len(names)
    # Demand follows staffing (as a planner would staff for the forecast): the day's
    # shape is the share of agents on shift in each quarter of an hour.
    cover = coverage(SHIFTS)
    shape = {f"{(k * 15 + 7) // 60:02d}:{(k * 15 + 7) % 60:02d}": c for k, c in enumerate(cover)}
    calls_per_agent_hour = peak_occupancy * 3600.0 / AHT_S
    top = max(cover)
    queues: dict[str, Any] = {
        q.name: {"peak_per_hour": round(share.get(q.name, 0.0) * top * calls_per_agent_hour, 2)}
        for q in centre.queues
    }
    queues["vip_zh"]["priority"] = 5
    queues["vip_zh"]["patience"] = {"dist": "exponential", "mean_s": 300}
    return parse_traffic(
        {
            "date": "2027-01-25",
            "shape": shape,
            "defaults": {
                "handle": {"dist": "lognormal", "mean_s": AHT_S, "sd_s": 150},
                "patience": {"dist": "exponential", "mean_s": 180},
            },
            "queues": queues,
            "agents": {"ring_delay": {"dist": "lognormal", "mean_s": 3, "sd_s": 1.5}, "no_answer_p": 0.01},
            "shifts": SHIFTS,
            "breaks": [
                {"at": "10:00", "spread_s": 5400, "duration_s": 600, "reason": "break"},
                {"at": "11:30", "spread_s": 9000, "duration_s": 1800, "reason": "lunch"},
                {"at": "15:00", "spread_s": 5400, "duration_s": 600, "reason": "break"},
            ],
        },
        "<mixed scenario>",
    )


def expected_arrivals(traffic: Traffic, hours: tuple[float, float] = (0.0, 24.0)) -> float:
    total = 0.0
    for qt in traffic.queues.values():
        rates = qt.rates_per_s(traffic.scale, traffic.shape)
        for k, r in enumerate(rates):
            lo, hi = k * 900.0, (k + 1) * 900.0
            overlap = max(0.0, min(hi, hours[1] * 3600) - max(lo, hours[0] * 3600))
            total += r * overlap
    return total
