"""The writer's journal: rows accepted but not committed when the process died are
written by the next start, exactly once, on SQLite and PostgreSQL."""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from cc_router.store import StoreWriter
from cc_router.store.journal import Journal, read_records
from cc_router.store.session_tables import journal_marks
from cc_router.store.tables import agent_states, decisions, interactions
from tests.store.factories import T0, finished, offer, state


async def _count(engine: AsyncEngine, table: object) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(table)) or 0)  # type: ignore[arg-type]


def _no_space(*args: object) -> Any:
    """posix_fallocate (or a journal's append) on a full disk."""
    raise OSError(errno.ENOSPC, "No space left on device")


def _crash(writer: StoreWriter) -> None:
    """What SIGKILL leaves: the journal file as written, its lock released, no close()
    (the map holds a descriptor of its own, on the same locked open file)."""
    assert writer.journal is not None
    writer.journal._map.close()
    os.close(writer.journal._fd)


@pytest.mark.asyncio
async def test_replay_writes_exactly_what_was_not_committed(engine: AsyncEngine, tmp_path: Path) -> None:
    jdir = tmp_path / "journal"
    w1 = StoreWriter("unused://", engine=engine, journal=Journal(jdir))
    w1.submit([finished("i1"), offer("i1"), state("a1", "ready", T0, "logged_out", T0)], T0)
    w1.submit([finished("i2")], T0 + 1)
    await w1.flush()  # committed, with the mark
    w1.submit([finished("i3"), offer("i3", n=3)], T0 + 2)
    w1.submit([state("a1", "busy", T0 + 3, "ready", T0)], T0 + 3)
    _crash(w1)

    w2 = StoreWriter("unused://", engine=engine)
    assert await w2.replay(jdir) == 3
    assert await _count(engine, interactions) == 3
    assert await _count(engine, decisions) == 2
    async with engine.connect() as conn:
        rows = (await conn.execute(select(agent_states).order_by(agent_states.c.started_at))).all()
    assert [(r.state, r.ended_at is None) for r in rows] == [("ready", False), ("busy", True)]
    assert list(jdir.glob("*.journal")) == []
    assert await _count(engine, journal_marks) == 0
    # Nothing left to do the second time.
    assert await StoreWriter("unused://", engine=engine).replay(jdir) == 0
    assert await _count(engine, interactions) == 3


@pytest.mark.asyncio
async def test_a_live_processs_journal_is_left_alone(engine: AsyncEngine, tmp_path: Path) -> None:
    jdir = tmp_path / "journal"
    live = StoreWriter("unused://", engine=engine, journal=Journal(jdir))
    live.submit([finished("i1")], T0)
    assert await StoreWriter("unused://", engine=engine).replay(jdir) == 0
    assert await _count(engine, interactions) == 0
    await live.close()
    assert await _count(engine, interactions) == 1
    assert list(jdir.glob("*.journal")) == []  # a clean stop leaves no journal behind


@pytest.mark.asyncio
async def test_a_torn_last_record_is_ignored(engine: AsyncEngine, tmp_path: Path) -> None:
    jdir = tmp_path / "journal"
    w1 = StoreWriter("unused://", engine=engine, journal=Journal(jdir))
    w1.submit([finished("i1")], T0)
    w1.submit([finished("i2")], T0)
    assert w1.journal is not None
    path, written = w1.journal.path, w1.journal.bytes
    _crash(w1)
    data = bytearray(path.read_bytes())
    data[written - 7 : written] = bytes(7)  # the second record cut short
    path.write_bytes(data)
    assert [seq for seq, _ in read_records(path)] == [1]
    assert await StoreWriter("unused://", engine=engine).replay(jdir) == 1
    assert await _count(engine, interactions) == 1


@pytest.mark.asyncio
async def test_batches_end_on_record_boundaries(engine: AsyncEngine, tmp_path: Path) -> None:
    jdir = tmp_path / "journal"
    w1 = StoreWriter("unused://", engine=engine, batch_size=2, journal=Journal(jdir))
    for n in range(5):
        w1.submit([finished(f"i{n}a"), finished(f"i{n}b"), finished(f"i{n}c")], T0 + n)
    await w1._flush_batch()
    assert await _count(engine, interactions) == 3  # one whole record, not 2 of 3
    _crash(w1)
    assert await StoreWriter("unused://", engine=engine).replay(jdir) == 12
    assert await _count(engine, interactions) == 15


def test_records_past_the_first_map_are_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from cc_router.store import journal as jr

    monkeypatch.setattr(jr, "MAP_BYTES", 4096)
    j = Journal(tmp_path)
    for n in range(100):
        j.append([(finished(f"i{n}"), T0 + n)])
    assert j.bytes > 4096
    assert os.path.getsize(j.path) >= j.bytes
    j.sync()
    got = [(seq, items[0][0].interaction_id) for seq, items in read_records(j.path)]
    assert got == [(n + 1, f"i{n}") for n in range(100)]
    j.close()


def test_a_full_disk_is_an_error_not_a_crash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks are reserved before the map grows: no space is an OSError from `append`
    (a write through the map into unreserved blocks would be a SIGBUS), and what was
    written before stays readable."""
    from cc_router.store import journal as jr

    monkeypatch.setattr(jr, "MAP_BYTES", 4096)
    j = Journal(tmp_path)
    j.append([(finished("i0"), T0)])

    monkeypatch.setattr(jr.os, "posix_fallocate", _no_space)
    with pytest.raises(OSError):
        for n in range(1, 100):
            j.append([(finished(f"i{n}"), T0 + n)])
    written = j.seq
    assert 1 <= written < 99
    assert [seq for seq, _ in read_records(j.path)] == list(range(1, written + 1))
    j.close()


def test_a_rotation_that_cannot_reserve_keeps_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cc_router.store import journal as jr

    j = Journal(tmp_path)
    j.append([(finished("i0"), T0)])
    path, name = j.path, j.name
    real = jr.os.posix_fallocate

    monkeypatch.setattr(jr.os, "posix_fallocate", _no_space)
    with pytest.raises(OSError):
        j.rotate()
    assert (j.path, j.name) == (path, name)
    assert [p.name for p in tmp_path.glob("*.journal")] == [name]  # no half-made file left
    j.append([(finished("i1"), T0 + 1)])
    assert [seq for seq, _ in read_records(path)] == [1, 2]
    monkeypatch.setattr(jr.os, "posix_fallocate", real)
    assert j.rotate() == path  # retried later, it works
    j.close()


@pytest.mark.asyncio
async def test_rows_whose_record_could_not_be_written_still_reach_the_store_and_marks_stay_right(
    engine: AsyncEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    jdir = tmp_path / "journal"
    w1 = StoreWriter("unused://", engine=engine, batch_size=3, journal=Journal(jdir))
    assert w1.journal is not None
    w1.submit([finished("i1"), finished("i2")], T0)  # record 1
    real = w1.journal.append

    monkeypatch.setattr(w1.journal, "append", _no_space)
    w1.submit([finished("i3")], T0 + 1)  # accepted, not journalled
    monkeypatch.setattr(w1.journal, "append", real)
    w1.submit([finished("i4")], T0 + 2)  # record 2
    await w1._flush_batch()  # i1 i2 i3: the mark says record 1, not record 2
    assert await _count(engine, interactions) == 3
    _crash(w1)
    assert await StoreWriter("unused://", engine=engine).replay(jdir) == 1  # i4, once
    assert await _count(engine, interactions) == 4
