"""A real `cc-router run` SIGKILLed and started again on the same SQLite store: agents are
back in their states with their time in state, live skill changes kept, rows the writer
had not yet committed are in the store, and a second process on the store is refused."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from tests.ha.processes import Router, act, agent, ready, write_config


def test_sigkill_and_restart_on_sqlite(tmp_path: Path) -> None:
    # The writer would wait 60 s to commit: at the kill every row is only in the journal.
    config = write_config(tmp_path, flush_interval_s=60)
    db = tmp_path / "store.db"
    url = f"sqlite+aiosqlite:///{db}"
    first = Router(config, url, tmp_path / "first.log").start()
    try:
        base = first.url()
        ready(base)
        assert act(base, "POST", "/api/agents/1001/login").status_code == 200
        assert act(base, "POST", "/api/agents/1002/login").status_code == 200
        r = act(base, "POST", "/api/agents/1002/pause", {"reason": "午饭", "max_s": 600})
        assert r.status_code == 200, r.text
        r = act(base, "PUT", "/api/agents/1003/skills", {"lang_zh": 2, "billing": 2, "sales": 5})
        assert r.status_code == 200, r.text
        before = {aid: agent(base, aid) for aid in ("1001", "1002", "1003")}
        assert before["1002"]["state"] == "paused"

        other = write_config(tmp_path, name="other.yaml")
        second = Router(other, url, tmp_path / "second.log").start()
        assert second.proc.wait(20) == 2
        assert "SQLite allows one cc-router at a time" in second.log_path.read_text()
        second.stop()
    finally:
        first.kill()
    killed_at = time.time()

    again = Router(config, url, tmp_path / "again.log").start()
    try:
        base = again.url()
        ready(base)
        after = {aid: agent(base, aid) for aid in ("1001", "1002", "1003")}
        for aid in ("1001", "1002"):
            was, now = before[aid], after[aid]
            assert (now["state"], now["reason"]) == (was["state"], was["reason"])
            # Stored to the microsecond.
            assert after[aid]["state_since"] == pytest.approx(before[aid]["state_since"], abs=1e-5)
            assert after[aid]["time_in_state_s"] >= time.time() - killed_at - 1
        assert after["1003"]["state"] == "logged_out"
        assert after["1003"]["skills"]["sales"] == 5
        assert again.wait_log("journal_replayed")["commands"] >= 3
    finally:
        again.stop()

    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT agent_id, state, reason, ended_at IS NULL FROM agent_states ORDER BY agent_id, started_at"
        ).fetchall()
        sessions = dict(conn.execute("SELECT agent_id, presence FROM agent_sessions").fetchall())
    # Before the kill: 1001 ready; 1002 ready, then paused. After: each interval goes on
    # (still open, no second row), the restart is not a state change on the floor.
    assert rows == [
        ("1001", "ready", "", 1),
        ("1002", "ready", "", 0),
        ("1002", "paused", "午饭", 1),
    ]
    assert sessions == {"1001": "ready", "1002": "paused", "1003": "logged_out"}
