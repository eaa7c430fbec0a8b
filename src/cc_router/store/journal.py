"""A local append-only journal of what the store writer accepted, so a crash loses no row.

`StoreWriter.submit` appends each event's stored commands as one record with a single
`os.write`: once it returns the bytes are in the kernel, and a SIGKILL of the process
cannot lose them (a background `fsync` bounds what a power cut could). Each batch the
writer commits also records, in the same transaction, the last journal record it holds
(`journal_marks`), so replaying a journal after a crash writes exactly the records that
never reached the store: no row lost, none twice.

Every process writes a journal file of its own and holds an flock on it; at start the
files nobody holds belong to processes that died, and are replayed, then removed.
Records are pickles of the stored commands as plain tuples (`journal_codec`): the files
are private to the router's state directory and read back only by the same code.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import os
import pickle
import struct
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection

from cc_router.store import journal_codec as codec
from cc_router.store.session_tables import journal_marks
from cc_router.store.tables import utc

_HEADER = struct.Struct("<IQI")
"""payload length, sequence number, CRC-32 of the payload"""
ROTATE_BYTES = 8 << 20
ENV_JOURNAL_DIR = "CC_ROUTER_JOURNAL_DIR"


def journal_dir_for(url: str) -> Path:
    """Beside a SQLite database; for a server database, under the user's state directory."""
    if env := os.environ.get(ENV_JOURNAL_DIR):
        return Path(env)
    u = make_url(url)
    if u.get_backend_name() == "sqlite" and u.database and u.database != ":memory:":
        db = Path(u.database).resolve()
        return db.with_name(db.name + ".journal")
    state = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    digest = hashlib.sha256(u.render_as_string(hide_password=True).encode()).hexdigest()[:12]
    return state / "cc-router" / f"journal-{digest}"


class Journal:
    """This process's journal file (created and locked on construction)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.seq = 0
        self.bytes = 0
        self._out = io.BytesIO()
        self._pickler = pickle.Pickler(self._out, pickle.HIGHEST_PROTOCOL)
        self._open_new()

    def _open_new(self) -> None:
        self.name = f"{os.getpid()}-{time.time_ns()}.journal"
        self.path = self.directory / self.name
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self.bytes = 0

    def append(self, items: list[tuple[Any, float]]) -> int:
        self.seq += 1
        out = self._out
        out.seek(0)
        out.truncate()
        self._pickler.clear_memo()
        self._pickler.dump(codec.encode_items(items))
        payload = out.getvalue()
        data = _HEADER.pack(len(payload), self.seq, zlib.crc32(payload)) + payload
        # One write with O_APPEND: a record is in the file whole or (torn by a power cut
        # at most) detected by its CRC.
        os.write(self._fd, data)
        self.bytes += len(data)
        return self.seq

    def sync(self) -> None:
        os.fsync(self._fd)

    def rotate(self) -> Path:
        """Start a new file (call only when every record so far is committed); returns
        the old file's path, for the caller to delete after forgetting its mark."""
        old, old_fd = self.path, self._fd
        self._open_new()
        self.seq = 0
        os.close(old_fd)
        return old

    def close(self) -> None:
        os.close(self._fd)


def read_records(path: Path) -> Iterator[tuple[int, list[tuple[Any, float]]]]:
    """(seq, items) of every whole record; stops at a torn tail."""
    data = path.read_bytes()
    pos = 0
    while pos + _HEADER.size <= len(data):
        length, seq, crc = _HEADER.unpack_from(data, pos)
        start = pos + _HEADER.size
        payload = data[start : start + length]
        if len(payload) < length or zlib.crc32(payload) != crc:
            return
        yield seq, codec.decode_items(pickle.loads(payload))  # our own file, see the module doc
        pos = start + length


def orphans(directory: Path) -> Iterator[tuple[Path, int]]:
    """Journal files no live process holds, each with an flock now held by the caller
    (the fd, to close once replayed)."""
    if not directory.is_dir():
        return
    for path in sorted(directory.glob("*.journal")):
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        yield path, fd


async def committed_seq(conn: AsyncConnection, name: str) -> int:
    seq = await conn.scalar(select(journal_marks.c.seq).where(journal_marks.c.journal == name))
    return int(seq or 0)


async def mark(conn: AsyncConnection, name: str, seq: int) -> None:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    ins = dialect.insert(journal_marks)
    row = {"journal": name, "seq": seq, "updated_at": utc(time.time())}
    await conn.execute(
        ins.values(row).on_conflict_do_update(
            index_elements=["journal"], set_={"seq": ins.excluded.seq, "updated_at": ins.excluded.updated_at}
        )
    )


async def forget(conn: AsyncConnection, name: str) -> None:
    await conn.execute(delete(journal_marks).where(journal_marks.c.journal == name))


__all__ = ["Journal", "committed_seq", "forget", "journal_dir_for", "mark", "orphans", "read_records"]
