"""Load generator for the desktop push benchmark: many agent desktops in one process.

`python -m cc_router.bench.desk_load PORT TOKEN AGENTS_FILE` (agent ids, one a line) opens
one `GET /api/desktop/stream` per agent on 127.0.0.1:PORT, as the page's EventSource does,
and reads the pushed pictures. It prints `{"connected": n, "failed": m, ...}` once every
connection has been tried; measures from the next line on its stdin; and prints the
figures when its stdin closes.

What it measures per message, with the router on the same machine (same clock):
- offer to screen: an offer id seen for the first time, received at minus `offered_at`;
- state to screen: the agent's state differs from the last message, received at minus
  the state's `state_since`.
Plain asyncio streams and a small chunked-encoding reader keep the generator's own cost
per connection low, so the figures are the server's rather than a client library's.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from cc_router.bench.desk_bench import raise_fd_limit

CONNECT_BATCH = 100


@dataclass
class Figures:
    offer_ms: list[float] = field(default_factory=list)
    state_ms: list[float] = field(default_factory=list)
    messages: int = 0
    bytes: int = 0
    dropped: int = 0


async def _read_chunk(reader: asyncio.StreamReader) -> bytes:
    size_line = await reader.readuntil(b"\r\n")
    size = int(size_line.split(b";")[0].strip(), 16)
    if size == 0:
        raise EOFError
    data = await reader.readexactly(size + 2)
    return data[:-2]


def _parse(block: bytes) -> dict[str, Any] | None:
    for line in block.split(b"\n"):
        if line.startswith(b"data: "):
            data: dict[str, Any] = json.loads(line[6:])
            return data
    return None


async def desktop(port: int, token: str, agent: str, figs: Figures, opened: asyncio.Event) -> bool:
    """One desktop; True once connected (it then reads until cancelled)."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return False
    writer.write(
        (
            f"GET /api/desktop/stream?token={token}&agent={agent} HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{port}\r\nAccept: text/event-stream\r\n\r\n"
        ).encode()
    )
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()
        return False
    if b" 200 " not in head.split(b"\r\n", 1)[0]:
        writer.close()
        return False
    opened.set()
    seen_offers: set[str] = set()
    last_state: str | None = None
    buf = b""
    try:
        while True:
            buf += await _read_chunk(reader)
            now = time.time()
            while b"\n\n" in buf:
                block, buf = buf.split(b"\n\n", 1)
                figs.bytes += len(block) + 2
                data = _parse(block)
                if data is None:
                    continue
                figs.messages += 1
                for o in data.get("offers") or ():
                    oid = str(o.get("offer_id"))
                    if oid not in seen_offers:
                        seen_offers.add(oid)
                        figs.offer_ms.append((now - float(o["offered_at"])) * 1000)
                a = data.get("agent") or {}
                state = a.get("state")
                if last_state is not None and state != last_state and a.get("state_since"):
                    figs.state_ms.append((now - float(a["state_since"])) * 1000)
                last_state = state
                if len(seen_offers) > 1000:
                    seen_offers.clear()
    except (EOFError, asyncio.IncompleteReadError, ConnectionError, ValueError):
        figs.dropped += 1
    finally:
        writer.close()
    return True


def _rss_kb() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


async def main(port: int, token: str, agents: list[str]) -> None:
    raise_fd_limit()
    figs = Figures()
    rss0 = _rss_kb()
    tasks: list[asyncio.Task[bool]] = []
    connected = failed = 0
    for i in range(0, len(agents), CONNECT_BATCH):
        batch = agents[i : i + CONNECT_BATCH]
        events = [asyncio.Event() for _ in batch]
        for a, e in zip(batch, events, strict=True):
            tasks.append(asyncio.create_task(desktop(port, token, a, figs, e)))
        # Wait for this batch's first bytes (or failure) before the next: a steady ramp
        # rather than 5,000 SYNs in one go against a listen backlog.
        waits = [asyncio.create_task(e.wait()) for e in events]
        done, pending = await asyncio.wait(waits, timeout=10)
        for w in pending:
            w.cancel()
        connected += len(done)
    failed = len(agents) - connected
    print(json.dumps({"connected": connected, "failed": failed, "rss_kb": _rss_kb() - rss0}), flush=True)
    loop = asyncio.get_running_loop()
    stdin = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    await stdin.readline()  # the benchmark's "measure from now"
    # What arrived while the others were still connecting is not part of the figures.
    figs.offer_ms.clear()
    figs.state_ms.clear()
    figs.messages = figs.bytes = 0
    cpu0 = time.process_time()
    t0 = time.monotonic()
    await stdin.read()  # until the benchmark closes it
    elapsed = time.monotonic() - t0
    cpu = time.process_time() - cpu0
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    print(
        json.dumps(
            {
                "messages": figs.messages,
                "bytes": figs.bytes,
                "dropped": figs.dropped,
                "offer_ms": [round(x, 2) for x in figs.offer_ms],
                "state_ms": [round(x, 2) for x in figs.state_ms],
                "cpu_s": round(cpu, 3),
                "elapsed_s": round(elapsed, 3),
                "pid": os.getpid(),
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    port, token, path = sys.argv[1:4]
    with open(path) as f:
        names = [line.strip() for line in f if line.strip()]
    asyncio.run(main(int(port), token, names))
