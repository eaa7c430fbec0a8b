"""`python -m cc_router.logs.bench`: decision-log throughput into a null stream, JSON lines.

Each round feeds the sink the commands of one answered call (queued, offer, two agent
state changes, connected, finished) — the agent state lines are debug, so at INFO they
show what a filtered-out level costs.
"""

from __future__ import annotations

import json
import sys
import time

import structlog

from cc_router.config.models import LoggingConfig, LogLevel
from cc_router.core import commands as cmd
from cc_router.core.spec import Channel
from cc_router.core.vocabulary import AgentState, Outcome, QueueReason, Trigger
from cc_router.logs.configure import configure_logging
from cc_router.logs.decisions import DecisionLog


class NullStream:
    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


def call_commands(i: int) -> list[cmd.Command]:
    iid, agent = f"ccr-{i:08d}", f"{2001 + i % 200}"
    x = cmd.Explanation(
        trigger=Trigger.ARRIVAL,
        queue="billing_zh",
        strategy="longest_idle",
        step=1,
        requirement="lang_zh >= 3 and billing >= 2",
        chosen=agent,
        score=(1.0, 12.5),
        candidates=tuple((f"{2001 + k}", (1.0, 12.5 - k)) for k in range(5)),
        excluded=(("2099", "missed_recently"),),
        available=37,
    )
    return [
        cmd.InteractionQueued(iid, "billing_zh", Channel.VOICE, 0, QueueReason.ARRIVED, 100.0),
        cmd.Offer(f"o{i}", iid, agent, "billing_zh", Channel.VOICE, 15.0, x),
        cmd.AgentStateChanged(agent, AgentState.RESERVED, "", 100.0, AgentState.READY, 50.0),
        cmd.InteractionConnected(iid, agent, "billing_zh", Channel.VOICE, 3.2, 103.2),
        cmd.AgentStateChanged(agent, AgentState.BUSY, "", 103.2, AgentState.RESERVED, 100.0),
        cmd.InteractionFinished(
            iid,
            "billing_zh",
            Channel.VOICE,
            "13800138000",
            Outcome.ANSWERED,
            agent,
            100.0,
            100.0,
            103.2,
            190.0,
            3.2,
            86.8,
            1,
            0,
            "",
            x,
        ),
    ]


def run(level: LogLevel, as_json: bool, rounds: int) -> dict[str, object]:
    configure_logging(LoggingConfig(level=level, json=as_json), stream=NullStream())  # type: ignore[arg-type]
    sink = DecisionLog()
    batches = [call_commands(i) for i in range(rounds)]
    lines_per_round = 6 if level is LogLevel.DEBUG else 4
    sink(batches[0], 0.0)
    t0 = time.perf_counter()
    for batch in batches:
        sink(batch, 0.0)
    elapsed = time.perf_counter() - t0
    structlog.reset_defaults()
    return {
        "bench": "decision_log",
        "renderer": "json" if as_json else "console",
        "level": level.value,
        "calls": rounds,
        "lines": rounds * lines_per_round,
        "lines_per_s": round(rounds * lines_per_round / elapsed),
        "us_per_call": round(elapsed / rounds * 1e6, 2),
    }


def main(argv: list[str]) -> None:
    rounds = int(argv[0]) if argv else 20_000
    for level, as_json in ((LogLevel.INFO, True), (LogLevel.DEBUG, True), (LogLevel.INFO, False)):
        print(json.dumps(run(level, as_json, rounds)), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
