"""PNG charts of a run (matplotlib, Agg backend: no display needed).

A centre has dozens of queues; a chart with 60 lines says nothing, so each chart shows
the busiest few by volume plus the whole centre as a thick black line.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates
import matplotlib.pyplot as plt

from cc_router.sim.engine import SimResult
from cc_router.sim.stats import QueueAcc, occupancy
from cc_router.sim.traffic import INTERVAL_S

SHOWN = 8


def _times(slots: list[int], result: SimResult) -> list[datetime]:
    # Plot at the middle of each interval so a line does not look shifted by 7.5 minutes.
    return [datetime.fromtimestamp(s * INTERVAL_S + INTERVAL_S / 2, tz=result.tz) for s in slots]


def _format_axis(ax: Any, result: SimResult) -> None:
    multi_day = result.end - result.start > 86_400
    fmt = "%m-%d %H:%M" if multi_day else "%H:%M"
    ax.xaxis.set_major_formatter(mdates.DateFormatter(fmt, tz=result.tz))  # type: ignore[no-untyped-call]
    if not multi_day:
        locator = mdates.HourLocator(byhour=range(0, 24, 2), tz=result.tz)  # type: ignore[no-untyped-call]
        ax.xaxis.set_major_locator(locator)
    ax.grid(True, alpha=0.3)


def draw_charts(result: SimResult, out: Path) -> list[Path]:
    return [_sl_and_waiting(result, out / "sl_waiting.png"), _occupancy(result, out / "occupancy.png")]


def _sl_and_waiting(result: SimResult, path: Path) -> Path:
    by_queue: dict[str, dict[int, QueueAcc]] = defaultdict(dict)
    overall: dict[int, QueueAcc] = defaultdict(QueueAcc)
    voice = {q.name for q in result.centre.queues if q.channel == "voice"}
    for (slot, q), acc in result.stats.queue_rows.items():
        if q not in voice:
            continue
        by_queue[q][slot] = acc
        overall[slot].add(acc)
    volume = {q: sum(a.offered for a in rows.values()) for q, rows in by_queue.items()}
    shown = sorted((q for q in volume if volume[q] > 0), key=lambda q: -volume[q])[:SHOWN]
    fig, (ax_sl, ax_wait, ax_asa) = plt.subplots(3, 1, figsize=(15, 11), sharex=True)
    series: list[tuple[str, dict[int, QueueAcc], dict[str, Any]]] = [(q, by_queue[q], {}) for q in shown]
    series.append(("all voice queues", dict(overall), {"color": "black", "linewidth": 2.6}))
    for name, rows, style in series:
        slots = sorted(rows)
        ts = _times(slots, result)
        sl = [_f(rows[s].figures()["sl_pct"]) for s in slots]
        wait = [_f(rows[s].figures()["waiting_mean"]) for s in slots]
        asa = [_f(rows[s].figures()["asa_s"]) for s in slots]
        kw: dict[str, Any] = {"linewidth": 1.3, **style}
        ax_sl.plot(ts, sl, label=f"{name} ({sum(r.offered for r in rows.values()):,})", **kw)
        ax_wait.plot(ts, wait, **kw)
        ax_asa.plot(ts, asa, **kw)
    ax_sl.set_ylabel("service level %\n(answered in threshold)")
    ax_sl.set_ylim(0, 102)
    ax_sl.set_title(
        f"Voice: service level, callers waiting and ASA per 15 minutes — {len(shown)} busiest of "
        f"{len(by_queue)} voice queues (offered in brackets)"
    )
    ax_sl.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9, borderaxespad=0)
    ax_wait.set_ylabel("callers waiting (mean)")
    ax_wait.set_ylim(bottom=0)
    ax_asa.set_ylabel("ASA (s)")
    ax_asa.set_ylim(bottom=0)
    ax_asa.set_xlabel(f"time ({result.tz.key})")
    for ax in (ax_sl, ax_wait, ax_asa):
        _format_axis(ax, result)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _occupancy(result: SimResult, path: Path) -> Path:
    groups: dict[str, dict[int, list[float]]] = defaultdict(dict)
    overall: dict[int, list[float]] = defaultdict(lambda: [0.0] * 5)
    for (slot, g), secs in result.stats.group_rows.items():
        groups[g][slot] = secs
        if g.startswith("pool:"):
            o = overall[slot]
            for i, v in enumerate(secs):
                o[i] += v
    fig, (ax_pool, ax_queue) = plt.subplots(2, 1, figsize=(15, 9), sharex=True)
    for ax, prefix, title in (
        (ax_pool, "pool:", "seat pool"),
        (ax_queue, "queue:", "agents eligible for the queue (first step)"),
    ):
        names = [g for g in groups if g.startswith(prefix)]
        logged = {g: sum(sum(v[:4]) for v in groups[g].values()) for g in names}
        shown = sorted(names, key=lambda g: -logged[g])[:SHOWN]
        series: list[tuple[str, dict[int, list[float]], dict[str, Any]]] = [
            (g.removeprefix(prefix), groups[g], {}) for g in shown
        ]
        series.append(("whole centre", dict(overall), {"color": "black", "linewidth": 2.6}))
        for name, rows, style in series:
            slots = sorted(rows)
            occ = [_pct(occupancy(rows[s])) for s in slots]
            ax.plot(_times(slots, result), occ, label=name, **{"linewidth": 1.3, **style})
        ax.set_ylabel("occupancy %")
        ax.set_ylim(0, 102)
        ax.set_title(f"Agent occupancy per 15 minutes by {title} ({len(shown)} largest of {len(names)})")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9, borderaxespad=0)
        _format_axis(ax, result)
    ax_queue.set_xlabel(f"time ({result.tz.key}); occupancy = (reserved + talk + wrap-up) / available time")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _f(v: Any) -> float:
    return float("nan") if v is None else float(v)


def _pct(v: float | None) -> float:
    return float("nan") if v is None else 100.0 * v
