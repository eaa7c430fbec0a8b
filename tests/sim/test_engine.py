"""The simulator around the core: reproducibility, timers at the right virtual time,
staffing, the app_queue model on identical arrivals, replay, outputs and the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cc_router.config import load_config
from cc_router.core.spec import AgentSpec, CentreSpec, ProfileSpec, QueueSpec, StepSpec
from cc_router.sim.app_queue import AppQueueOptions, AqStrategy, app_queue_factory
from cc_router.sim.outputs import write_outputs
from cc_router.sim.replay import arrivals_from, read_queue_log, replay
from cc_router.sim.run import simulate
from cc_router.sim.traffic import Traffic, TrafficError, load_traffic, parse_traffic

ROOT = Path(__file__).resolve().parents[2]


def two_skill_centre() -> CentreSpec:
    return CentreSpec(
        skills=frozenset({"a", "b"}),
        profiles={"voice": ProfileSpec("voice")},
        agents=(AgentSpec("x1", skills={"a": 5}), AgentSpec("x2", skills={"b": 5})),
        queues=(
            QueueSpec("qa", requirement="a", steps=(StepSpec(30, "b"),)),
            QueueSpec("qb", requirement="b"),
        ),
    )


def traffic(**over: Any) -> Traffic:
    data: dict[str, Any] = {
        "defaults": {"handle": {"dist": "exponential", "mean_s": 120}, "patience": {"dist": "none"}},
        "queues": {"qa": {"rate_per_hour": 40}, "qb": {"rate_per_hour": 10}},
        "agents": {"ring_delay": {"dist": "fixed", "mean_s": 2}},
    }
    data.update(over)
    return parse_traffic(data)


def test_same_seed_same_results_other_seed_differs() -> None:
    a = simulate(two_skill_centre(), traffic(), seed=3, hours=(8, 12), progress=False).summary()
    b = simulate(two_skill_centre(), traffic(), seed=3, hours=(8, 12), progress=False).summary()
    c = simulate(two_skill_centre(), traffic(), seed=4, hours=(8, 12), progress=False).summary()
    for s in (a, b, c):
        s.pop("wall_s")
    assert a == b
    assert a != c


def test_escalation_step_fires_at_its_virtual_time() -> None:
    # Only x2 (skill b) is logged in: qa callers get him only at their 30 s step, so
    # every answered qa call waited at least 30 s plus the 2 s ring, and not much more
    # unless x2 was busy.
    tr = traffic(
        shifts=[{"ids": "x2"}],
        queues={"qa": {"rate_per_hour": 2}},
    )
    r = simulate(two_skill_centre(), tr, seed=1, progress=False)
    qa = r.stats.queue_totals()["qa"]
    assert qa.answered > 20
    waits_min = min(
        acc.wait_answered / acc.answered
        for (_, q), acc in r.stats.queue_rows.items()
        if q == "qa" and acc.answered == 1
    )
    assert waits_min == pytest.approx(32.0, abs=1e-6)
    assert r.rejected == 0


def test_shifts_breaks_and_agent_wrapup() -> None:
    tr = traffic(
        shifts=[
            {"ids": "x1", "start": "09:00", "end": "17:00"},
            {"ids": "x2", "start": "12:00", "end": "20:00"},
        ],
        breaks=[{"at": "10:00", "duration_s": 900, "reason": "tea"}],
        pauses=[{"per_hour": 1, "duration": {"dist": "fixed", "mean_s": 60}}],
        agents={
            "ring_delay": {"dist": "fixed", "mean_s": 1},
            "wrapup": {"mode": "agent", "time": {"dist": "fixed", "mean_s": 30}},
        },
    )
    r = simulate(two_skill_centre(), tr, seed=2, progress=False)
    assert r.rejected == 0
    rows = {(row["interval_start"][11:16], row["group"]): row for row in r.stats.group_interval_rows()}
    assert ("08:45", "pool:default") not in rows  # nobody before 09:00
    # The break is 900 s from 10:00; a call in progress at 10:00 delays it being seen.
    assert 600 < rows[("10:00", "pool:default")]["paused_s"] <= 900 + 60
    assert rows[("12:00", "pool:default")]["wrap_up_s"] > 0
    # the agent ends wrap-up after 30 s, well before the cap (traffic default 600 s)
    finished = sum(acc.answered for acc in r.stats.queue_totals().values())
    wrap_total = sum(row["wrap_up_s"] for (_, g), row in rows.items() if g == "pool:default")
    assert wrap_total == pytest.approx(30.0 * finished, rel=0.05)


def test_app_queue_model_sees_identical_arrivals() -> None:
    centre = two_skill_centre()
    ours = simulate(centre, traffic(), seed=5, hours=(8, 14), progress=False)
    theirs = simulate(
        centre,
        traffic(),
        seed=5,
        hours=(8, 14),
        progress=False,
        router_factory=app_queue_factory(AppQueueOptions(strategy=AqStrategy.LEASTRECENT)),
    )
    assert ours.arrivals == theirs.arrivals
    assert theirs.rejected == 0
    o, t = ours.stats.total(), theirs.stats.total()
    assert o.offered == t.offered
    # app_queue's callers only try every `retry` seconds: answers come later.
    assert t.wait_answered / t.answered > o.wait_answered / o.answered


def test_traffic_errors_are_clear() -> None:
    with pytest.raises(TrafficError, match=r"queues\.q\.handle\.dist"):
        parse_traffic({"queues": {"q": {"handle": {"dist": "gamma"}}}})
    with pytest.raises(TrafficError, match="unknown queue"):
        simulate(
            two_skill_centre(), parse_traffic({"queues": {"nope": {"rate_per_hour": 1}}}), progress=False
        )


def test_example_day_outputs_and_charts(tmp_path: Path) -> None:
    cfg = load_config(ROOT / "config" / "example.yaml")
    tr = load_traffic(ROOT / "config" / "traffic-example.yaml")
    r = simulate(cfg.to_centre(), tr, seed=1, tz=cfg.centre.tz, progress=False)
    assert r.rejected == 0
    files = write_outputs(r, tmp_path)
    assert {p.name for p in files} >= {
        "queue_intervals.csv",
        "results.json",
        "sl_waiting.png",
        "occupancy.png",
    }
    doc = json.loads((tmp_path / "results.json").read_text())
    assert doc["summary"]["offered"] > 3000
    assert 50 < doc["summary"]["sl_pct"] <= 100
    header = (tmp_path / "queue_intervals.csv").read_text().splitlines()[0].split(",")
    assert {"offered", "answered", "abandoned", "sl_pct", "asa_s", "max_wait_s", "occupancy"} <= set(header)


QUEUE_LOG = """\
1800000000|c1|qa|NONE|ENTERQUEUE||1001|1
1800000005|c1|qa|x1|CONNECT|5|c1-agent|2
1800000125|c1|qa|x1|COMPLETECALLER|5|120|1
1800000010|c2|qa|NONE|ENTERQUEUE||1002|1
1800000050|c2|qa|NONE|ABANDON|1|1|40
1800000020|c3|qb|NONE|ENTERQUEUE||1003|1
1800000021|c3|qb|x2|CONNECT|1|c3-agent|1
1800000081|c3|qb|x2|COMPLETEAGENT|1|60|1
1800000030|c4|zz|NONE|ENTERQUEUE||1004|1
"""


def test_replay_queue_log(tmp_path: Path) -> None:
    log = tmp_path / "queue_log"
    log.write_text(QUEUE_LOG)
    visits = read_queue_log(log)
    assert [(v.interaction_id, v.outcome, v.wait_s, v.talk_s) for v in visits] == [
        ("c1", "answered", 5.0, 120.0),
        ("c2", "abandoned", 40.0, 0.0),
        ("c3", "answered", 1.0, 60.0),
    ]
    arrivals = arrivals_from(visits)
    assert arrivals[1].patience_s == 40.0 and arrivals[1].handle_s == 120.0
    after, before, warnings = replay(visits, two_skill_centre(), Traffic.model_validate({}), progress=False)
    assert warnings == []
    b, a = before.total(), after.stats.total()
    assert (b.offered, b.answered, b.abandoned) == (3, 2, 1)
    # Both agents in all day and no ring delay: c1 and c3 are answered at once; c2 (qa)
    # still finds x1 busy with c1 and x2 with c3 until after its 40 s patience.
    assert (a.offered, a.answered, a.abandoned) == (3, 2, 1)
    assert a.wait_answered == 0.0 < b.wait_answered


def test_cli_simulate_and_replay(tmp_path: Path) -> None:
    from cc_router.cli.main import app

    runner = CliRunner()
    res = runner.invoke(
        app,
        [
            "simulate",
            "--config",
            str(ROOT / "config/example.yaml"),
            "--traffic",
            str(ROOT / "config/traffic-example.yaml"),
            "--out",
            str(tmp_path / "o"),
            "--no-charts",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "voice: SL" in res.output
    assert (tmp_path / "o" / "queue_intervals.csv").exists()
    log = tmp_path / "queue_log"
    log.write_text(
        QUEUE_LOG.replace("|qa|", "|general_zh|").replace("|qb|", "|billing_zh|")
        + "1800000090|c4|zz|NONE|ABANDON|1|1|60\n"
    )
    res = runner.invoke(
        app, ["replay", "--config", str(ROOT / "config/example.yaml"), "--queue-log", str(log)]
    )
    assert res.exit_code == 0, res.output
    assert "general_zh" in res.output and "(all)" in res.output
    assert "'zz' is not in the config" in res.output
    res = runner.invoke(
        app, ["simulate", "--config", str(ROOT / "config/example.yaml"), "--traffic", str(log)]
    )
    assert res.exit_code == 1
