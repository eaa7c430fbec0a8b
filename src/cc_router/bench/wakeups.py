"""What wakes a process's event loop, by source, from `strace` of its loop thread.

The loop (uvloop, over libuv) sleeps in `epoll_wait`; each call that sleeps (timeout not
0) and returns is one wake-up. It returns either 0 (the earliest timer fell due) or the
ready descriptors, which libuv registers with the descriptor itself as the event's data,
so strace's decoding of the result (`data={u32=FD, ...}`) says which descriptors woke it.
Descriptors are named from /proc/<pid>/fd and /proc/<pid>/net/tcp*: the AMI session (its
peer port), HTTP connections (the router's listening port), the loop's eventfd (another
thread handing a result back with call_soon_threadsafe: the SQLite thread, to_thread
executors), pipes and the rest.

`strace -p` stops the traced thread at every system call, so a traced run's CPU figures
are inflated; its counts are what it is for.

Traced with `-ttt -T`, each line also carries when the wait began and how long it took:
how long the loop slept before each wake-up, and how long it was busy after it (until the
next wait began; wall time, inflated by tracing alike for every wake-up), in buckets of
sleep length (`by_sleep`). That tests the cold-cache explanation on the router itself: if
a wake-up after a long sleep costs more, its busy time after says so.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

_CALL = re.compile(
    r"(?:^(?:\d+\s+)?(?P<at>\d+\.\d+)\s+)?"
    r"epoll_p?wait\(\d+, (?P<events>.*), \d+, (?P<timeout>-?\d+)(?:, [^)]*)?\)\s+=\s+(?P<n>-?\d+)"
    r"(?:.*<(?P<took>\d+\.\d+)>)?"
)
SLEEP_BUCKETS_MS = (0.1, 1.0, 3.3, 10.0, 33.0)
"""Upper bounds of the sleep-length buckets (`by_sleep`); the last bucket is open."""
_FD = re.compile(r"data=\{u32=(\d+)")

TIMER = "timer (epoll timeout)"
THREAD = "thread handoff (eventfd: call_soon_threadsafe)"


@dataclass
class Wakeups:
    """Wake-ups of one traced run: total and by source (a wake-up with several sources
    ready counts once for each)."""

    total: int = 0
    polls: int = 0
    """epoll calls that did not sleep (timeout 0): callbacks were already pending."""
    by_fd: Counter[int] = field(default_factory=Counter)
    timers: int = 0
    sleeps: list[tuple[float, float]] = field(default_factory=list)
    """(seconds slept, seconds busy after) per wake-up, when traced with `-ttt -T`."""
    _woke_at: float | None = field(default=None, init=False, repr=False)
    """When the last wake-up returned, until the next wait that may sleep begins."""

    def feed(self, lines: Iterable[str]) -> Wakeups:
        for line in lines:
            m = _CALL.search(line)
            if m is None:
                continue
            at, took = m["at"], m["took"]
            if int(m["timeout"]) == 0:
                self.polls += 1  # part of the busy time after the last wake-up
                continue
            if at is not None and self._woke_at is not None and self.sleeps:
                slept, _ = self.sleeps[-1]
                self.sleeps[-1] = (slept, max(0.0, float(at) - self._woke_at))
                self._woke_at = None
            n = int(m["n"])
            if n < 0:
                continue
            self.total += 1
            if at is not None and took is not None:
                self.sleeps.append((float(took), 0.0))
                self._woke_at = float(at) + float(took)
            if n == 0:
                self.timers += 1
            for fd in {int(x) for x in _FD.findall(m["events"])}:
                self.by_fd[fd] += 1
        return self

    def by_sleep(self, per: int) -> dict[str, dict[str, float]]:
        """Per sleep-length bucket: wake-ups per `per` (calls made), the share of all
        wake-ups, and the mean busy time after one in µs (strace-inflated wall time)."""
        if not self.sleeps or per <= 0:
            return {}
        edges = (0.0, *SLEEP_BUCKETS_MS, float("inf"))
        out: dict[str, dict[str, float]] = {}
        for lo, hi in pairwise(edges):
            got = [busy for slept, busy in self.sleeps if lo <= slept * 1000 < hi]
            if not got:
                continue
            label = f"{lo:g}-{hi:g} ms" if hi != float("inf") else f">= {lo:g} ms"
            out[label] = {
                "per_call": round(len(got) / per, 2),
                "share": round(len(got) / len(self.sleeps), 3),
                "busy_after_us": round(1e6 * sum(got) / len(got), 1),
            }
        return out

    def by_source(self, names: Mapping[int, str]) -> dict[str, int]:
        out: Counter[str] = Counter()
        if self.timers:
            out[TIMER] = self.timers
        for fd, n in self.by_fd.items():
            out[names.get(fd, f"fd {fd} (closed before it was named)")] += n
        return dict(out.most_common())


def _tcp_ports(pid: int) -> dict[str, tuple[int, int]]:
    """socket inode -> (local port, remote port) for the TCP sockets `pid` can see."""
    out: dict[str, tuple[int, int]] = {}
    for name in ("tcp", "tcp6"):
        try:
            text = Path(f"/proc/{pid}/net/{name}").read_text()
        except FileNotFoundError:
            continue
        for row in text.splitlines()[1:]:
            cols = row.split()
            if len(cols) > 9:
                out[cols[9]] = (int(cols[1].rsplit(":", 1)[1], 16), int(cols[2].rsplit(":", 1)[1], 16))
    return out


def name_fds(pid: int, ami_port: int, http_port: int) -> dict[int, str]:
    """What each open descriptor of `pid` is, in the sources' terms above."""
    ports = _tcp_ports(pid)
    out: dict[int, str] = {}
    for entry in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{entry}")
        except OSError:
            continue
        out[int(entry)] = classify(target, ports, ami_port, http_port)
    return out


def classify(target: str, ports: Mapping[str, tuple[int, int]], ami_port: int, http_port: int) -> str:
    if target == "anon_inode:[eventfd]":
        return THREAD
    if target.startswith("pipe:"):
        return "pipe (signals, subprocesses)"
    m = re.fullmatch(r"socket:\[(\d+)\]", target)
    if m is not None:
        local, remote = ports.get(m[1], (0, 0))
        if remote == ami_port:
            return "AMI socket"
        if local == http_port:
            return "HTTP (API, SSE, /metrics)" if remote else "HTTP listener (new connections)"
        return "other socket (UDP, Unix, database)"
    return f"other ({target.split(':', 1)[0]})"


def syscall_summary(text: str, calls: int, top: int = 12) -> dict[str, dict[str, float]]:
    """`strace -c` 's table as {syscall: {calls per routed call, seconds per call in µs}},
    busiest first (strace's own times: inflated by tracing, but comparable between runs)."""
    out: dict[str, dict[str, float]] = {}
    for line in text.splitlines():
        cols = line.split()
        if len(cols) < 5 or not cols[0].replace(".", "", 1).isdigit() or cols[-1] == "total":
            continue
        seconds, count, name = float(cols[1]), int(cols[3]), cols[-1]
        if calls:
            out[name] = {"per_call": round(count / calls, 2), "us_per_call": round(1e6 * seconds / calls, 1)}
        if len(out) >= top:
            break
    return out


__all__ = ["SLEEP_BUCKETS_MS", "THREAD", "TIMER", "Wakeups", "classify", "name_fds", "syscall_summary"]
