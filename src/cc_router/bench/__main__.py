"""`python -m cc_router.bench [names...]`: print benchmark figures as JSON lines."""

from __future__ import annotations

import json
import sys

from cc_router.bench.core_bench import run_case


def main(argv: list[str]) -> None:
    wanted = set(argv) or {"core"}
    if "core" in wanted:
        for agents, events, naive in ((200, 20_000, 2_000), (2_000, 20_000, 2_000), (20_000, 30_000, 300)):
            for row in run_case(agents, 100, events, naive):
                print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
