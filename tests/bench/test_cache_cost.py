"""The cache-cost benchmark leaves logging usable for what runs after it in the process."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from cc_router.bench import cache_cost


@pytest.fixture
def logging_restored() -> Iterator[None]:
    """The run configures logging for the whole process: put back what other tests had."""
    saved = structlog.get_config()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    structlog.configure(**saved)
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.usefixtures("logging_restored")
def test_logging_works_after_the_run(capsys: pytest.CaptureFixture[str]) -> None:
    cache_cost.main(["200", "3"])
    row = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert row["agents"] == 200
    assert row["observers_ms_per_call_caches_warm_observers_batched"][0] > 0
    # The live group of `make bench` logs next, in the same process (it raised
    # "I/O operation on closed file" when this ran first).
    structlog.get_logger("cc_router.test").info("after_cache_cost", n=1)
    logging.getLogger("cc_router.test").info("after cache_cost")
