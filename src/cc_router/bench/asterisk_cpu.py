"""CPU time of a process from /proc/<pid>/stat (Asterisk, or the benchmark itself).

utime and stime count every thread of the process, which is what "CPU per call" needs
for Asterisk (hundreds of threads); the clock ticks are converted with SC_CLK_TCK.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

CLK_TCK = os.sysconf("SC_CLK_TCK")


def parse_stat_cpu_ticks(stat: str) -> int:
    """utime + stime (clock ticks) from the text of /proc/<pid>/stat.

    The command name (field 2) is in parentheses and may contain spaces or ')', so fields
    are counted from the last ')'."""
    rest = stat[stat.rindex(")") + 2 :].split()
    # rest[0] is field 3 (state); utime and stime are fields 14 and 15.
    return int(rest[11]) + int(rest[12])


class ProcessGone(RuntimeError):
    """The measured process ended (e.g. Asterisk restarted by someone else mid-run)."""


def process_cpu_s(pid: int) -> float:
    """CPU seconds (user + system, all threads) used so far by `pid`."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            return parse_stat_cpu_ticks(fh.read()) / CLK_TCK
    except FileNotFoundError:
        raise ProcessGone(f"process {pid} is gone (Asterisk restarted during the run?)") from None


@dataclass
class CpuWindow:
    """CPU used by a process between `start()` and `stop()`, with the wall time."""

    pid: int
    cpu_s: float = 0.0
    wall_s: float = 0.0
    _cpu0: float = 0.0
    _wall0: float = 0.0

    def start(self) -> CpuWindow:
        self._cpu0 = process_cpu_s(self.pid)
        self._wall0 = time.monotonic()
        return self

    def stop(self) -> CpuWindow:
        self.cpu_s = process_cpu_s(self.pid) - self._cpu0
        self.wall_s = time.monotonic() - self._wall0
        return self

    @property
    def busy_pct(self) -> float:
        """Average CPU use over the window, in % of one core."""
        return 100.0 * self.cpu_s / self.wall_s if self.wall_s > 0 else 0.0


def ms_per(cpu_s: float, count: int) -> float | None:
    return round(1000.0 * cpu_s / count, 3) if count > 0 else None


def parse_host_busy_ticks(proc_stat: str) -> int:
    """Non-idle clock ticks of all CPUs from the `cpu` line of /proc/stat."""
    for line in proc_stat.splitlines():
        if line.startswith("cpu "):
            values = [int(v) for v in line.split()[1:]]
            idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
            # guest time is already counted in user/nice
            return sum(values[:8]) - idle
    raise ValueError("no 'cpu' line in /proc/stat")


def host_busy_s() -> float:
    """CPU seconds all processes on the host have used so far (every core)."""
    with open("/proc/stat", encoding="ascii") as fh:
        return parse_host_busy_ticks(fh.read()) / CLK_TCK


def children_cpu_s() -> float:
    """CPU seconds of this process's waited-for children (SIPp)."""
    import resource

    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


@dataclass
class HostWindow:
    """Whole-host CPU over a window, to tell how much other work competed with the run.

    `other_cores` = host CPU not used by Asterisk, this process or SIPp, in cores."""

    asterisk_pid: int
    cores: int = field(default_factory=lambda: os.cpu_count() or 1)
    host_s: float = 0.0
    self_s: float = 0.0
    children_s: float = 0.0
    asterisk_s: float = 0.0
    wall_s: float = 0.0
    _t0: tuple[float, float, float, float, float] = (0.0, 0.0, 0.0, 0.0, 0.0)

    def start(self) -> HostWindow:
        self._t0 = (
            host_busy_s(),
            time.process_time(),
            children_cpu_s(),
            process_cpu_s(self.asterisk_pid),
            time.monotonic(),
        )
        return self

    def stop(self) -> HostWindow:
        h0, s0, c0, a0, w0 = self._t0
        self.host_s = host_busy_s() - h0
        self.self_s = time.process_time() - s0
        self.children_s = children_cpu_s() - c0
        self.asterisk_s = process_cpu_s(self.asterisk_pid) - a0
        self.wall_s = time.monotonic() - w0
        return self

    @property
    def other_cores(self) -> float:
        if self.wall_s <= 0:
            return 0.0
        return max(0.0, self.host_s - self.self_s - self.children_s - self.asterisk_s) / self.wall_s

    @property
    def host_busy_pct(self) -> float:
        return 100.0 * self.host_s / (self.wall_s * self.cores) if self.wall_s > 0 else 0.0
