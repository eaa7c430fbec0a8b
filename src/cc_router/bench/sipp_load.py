"""Drive SIPp callers (tests/sipp/caller.xml) at a fixed rate and read its final counters.

SIPp is a separate process: its CPU never counts as the router's. Each caller holds until
Asterisk hangs up (agent done talking) or `hold_ms` runs out, whichever is first; the
source address picks the Asterisk endpoint (127.0.0.1: trunk -> ccr-inbound, cc-router;
127.0.0.2: bench-apq -> app_queue), so both sides get identical traffic.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from pathlib import Path

CALLER_SCENARIO = Path(__file__).resolve().parents[3] / "tests" / "sipp" / "caller.xml"


@dataclass(frozen=True)
class SippLoad:
    number: str
    rate: float
    calls: int
    hold_ms: int
    source_ip: str = "127.0.0.1"
    local_port: int = 15190
    media_port: int = 16190
    target: str = "127.0.0.1:15060"
    scenario: Path = CALLER_SCENARIO
    caller_name: str = "bench"
    caller_num: str = "13900000000"
    max_concurrent: int = 5000

    @property
    def send_s(self) -> float:
        """Seconds SIPp needs to start every call."""
        return self.calls / self.rate

    def argv(self, sipp: str, stat_file: Path) -> list[str]:
        # -timeout: SIPp gives up on its own well after the last caller's hold would end.
        give_up_s = int(self.send_s + self.hold_ms / 1000 + 30)
        return [
            sipp, "-sf", str(self.scenario), "-s", self.number,
            "-i", self.source_ip, "-p", str(self.local_port), "-mp", str(self.media_port),
            "-r", f"{self.rate:g}", "-m", str(self.calls), "-l", str(self.max_concurrent),
            "-recv_timeout", str(self.hold_ms), "-timeout", f"{give_up_s}s",
            "-key", "cname", self.caller_name, "-key", "cnum", self.caller_num,
            "-nostdin", "-trace_stat", "-stf", str(stat_file), "-fd", "1",
            self.target,
        ]  # fmt: skip


@dataclass(frozen=True)
class SippResult:
    returncode: int
    created: int
    successful: int
    failed: int
    wall_s: float

    @property
    def clean(self) -> bool:
        return self.failed == 0 and self.created > 0


def parse_stat_csv(text: str) -> dict[str, str]:
    """The last row of SIPp's -trace_stat file, keyed by its header (';'-separated)."""
    lines = [line.rstrip(";") for line in text.splitlines() if line.strip()]
    if not lines:
        return {}
    header = lines[0].split(";")
    # SIPp appends its own log lines (name resolution, receive timeouts) to the file.
    rows = [line.split(";") for line in lines[1:] if line.count(";") == len(header) - 1]
    return dict(zip(header, rows[-1], strict=True)) if rows else {}


def _count(stats: dict[str, str], key: str) -> int:
    try:
        return int(stats.get(key, "0").strip() or 0)
    except ValueError:
        return 0


def result_from_stats(stats: dict[str, str], returncode: int, wall_s: float) -> SippResult:
    return SippResult(
        returncode=returncode,
        created=_count(stats, "OutgoingCall(C)") or _count(stats, "TotalCallCreated"),
        successful=_count(stats, "SuccessfulCall(C)"),
        failed=_count(stats, "FailedCall(C)"),
        wall_s=wall_s,
    )


async def run_sipp(load: SippLoad, workdir: Path, sipp: str = "sipp") -> SippResult:
    """Run SIPp to completion (bounded by its -timeout and a hard kill after that)."""
    stat_file = workdir / f"sipp-{load.source_ip}-{load.rate:g}cps.csv"
    stat_file.unlink(missing_ok=True)
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        *load.argv(sipp, stat_file),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        cwd=str(workdir),
    )
    hard_limit = load.send_s + load.hold_ms / 1000 + 60
    try:
        _, err = await asyncio.wait_for(proc.communicate(), hard_limit)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        err = b"killed after hard limit"
    wall = time.monotonic() - started
    stats = parse_stat_csv(stat_file.read_text(errors="replace")) if stat_file.exists() else {}
    if not stats:
        tail = err.decode(errors="replace").strip()[-500:]
        raise RuntimeError(f"SIPp wrote no statistics (exit {proc.returncode}): {tail}")
    return result_from_stats(stats, proc.returncode or 0, wall)
