"""A local append-only journal of what the store writer accepted, so a crash loses no row.

`StoreWriter.submit` appends each event's stored commands as one record, copied into the
file through a shared memory map: the pages are the kernel's page cache, so once the copy
is done a SIGKILL of the process cannot lose the record (a background `fsync` bounds what
a power cut could). The map spares the routing path a system call per event: an offer's
and an agent state's record from cold caches, as each event runs live, cost 60 µs median
with `os.write`, 44 copied into the map. Each batch the writer commits also records, in
the same transaction, the last journal record it holds (`journal_marks`), so replaying a
journal after a crash writes exactly the records that never reached the store: no row
lost, none twice.

Every process writes a journal file of its own and holds an flock on it; at start the
files nobody holds belong to processes that died, and are replayed, then removed.
Records are pickles of the stored commands as plain tuples (`journal_codec`): the files
are private to the router's state directory and read back only by the same code.
"""

from __future__ import annotations

import fcntl
import hashlib
import mmap
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
MAP_BYTES = 2 * ROTATE_BYTES
"""A new file's size, zeros until written, its blocks reserved; doubled when a record would
not fit (the writer rotates only once everything is committed, which a store that is down
can put off)."""
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
        self._open_new()

    def _open_new(self) -> None:
        """A new file, or nothing changed if it cannot be made (the old one stays in use)."""
        name = f"{os.getpid()}-{time.time_ns()}.journal"
        path = self.directory / name
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            # Blocks reserved now, not at the page faults of the first writes: a full disk
            # is an OSError here, where a write through the map would have been a SIGBUS.
            os.posix_fallocate(fd, 0, MAP_BYTES)
            mapped = mmap.mmap(fd, MAP_BYTES)
        except BaseException:
            os.close(fd)
            path.unlink(missing_ok=True)
            raise
        self.name, self.path, self._fd, self._map = name, path, fd, mapped
        self.bytes = 0

    def append(self, items: list[tuple[Any, float]]) -> int:
        seq = self.seq + 1
        payload = pickle.dumps(codec.encode_items(items), pickle.HIGHEST_PROTOCOL)
        data = _HEADER.pack(len(payload), seq, zlib.crc32(payload)) + payload
        start = self.bytes
        end = start + len(data)
        if end > len(self._map):
            size = max(2 * len(self._map), end)
            os.posix_fallocate(self._fd, 0, size)
            self._map.resize(size)
        # Header and payload in one copy; what follows is still zeros, where reading stops.
        # A record torn by a power cut is caught by its CRC.
        self._map[start:end] = data
        self.bytes = end
        self.seq = seq
        return seq

    def sync(self) -> None:
        # fsync writes the file's dirty pages back, those written through the map too.
        os.fsync(self._fd)

    def rotate(self) -> Path:
        """Start a new file (call only when every record so far is committed); returns
        the old file's path, for the caller to delete after forgetting its mark."""
        old, old_fd, old_map = self.path, self._fd, self._map
        self._open_new()
        self.seq = 0
        old_map.close()
        os.close(old_fd)
        return old

    def close(self) -> None:
        self._map.close()
        os.close(self._fd)


def read_records(path: Path) -> Iterator[tuple[int, list[tuple[Any, float]]]]:
    """(seq, items) of every whole record; stops at the zeros after the last one or at a
    torn tail."""
    data = path.read_bytes()
    pos = 0
    while pos + _HEADER.size <= len(data):
        length, seq, crc = _HEADER.unpack_from(data, pos)
        if length == 0:
            return  # the unwritten rest of the file
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
