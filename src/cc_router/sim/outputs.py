"""Writing a run's results: CSV per interval, one JSON document, and charts."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cc_router.sim.engine import SimResult


def queue_totals(result: SimResult) -> list[dict[str, Any]]:
    rows = []
    for q in result.centre.queues:
        acc = result.stats.queue_totals().get(q.name)
        if acc is None:
            continue
        rows.append({"queue": q.name, "service_level_s": q.service_level_s, **acc.figures()})
    return rows


def write_csv(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    if not rows:
        path.write_text("", encoding="utf-8")
        return
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def write_outputs(result: SimResult, out: Path, charts: bool = True) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    qrows = result.stats.queue_interval_rows()
    grows = result.stats.group_interval_rows()
    written = [out / "queue_intervals.csv", out / "group_intervals.csv", out / "results.json"]
    write_csv(written[0], qrows)
    write_csv(written[1], grows)
    doc = {
        "summary": result.summary(),
        "queues": queue_totals(result),
        "queue_intervals": qrows,
        "group_intervals": grows,
        **result.extras,
    }
    written[2].write_text(json.dumps(doc, ensure_ascii=False, indent=1), encoding="utf-8")
    if charts:
        from cc_router.sim.charts import draw_charts

        written += draw_charts(result, out)
    return written
