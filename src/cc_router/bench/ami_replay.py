"""Router CPU per call without the host's noise: replay a recorded AMI stream.

On a shared, saturated machine the live figure (process CPU over the run / calls) also
counts cache and scheduler effects of everything else running. Here the bytes the router
received during a live run are fed again, in the same read sizes, through a fresh service
built by `wiring.build_service` (every sink: decision log, store queue, live view,
metrics, the AMI node), with a connection stand-in that encodes actions but sends nothing.
What is not counted: socket reads and writes, the store's SQL (its task is not running)
and the HTTP server.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any

from cc_router.adapters.ami.connection import AmiConnection, Reply
from cc_router.adapters.ami.protocol import FrameSplitter, encode_action
from cc_router.config import Config
from cc_router.core import events as ev

_LEG_ID = re.compile(rb"Uniqueid: ccr-([0-9a-f]+)-1\r\n")


class _NullConnection:
    """What the node sends through: encodes each action (its real cost), sends nothing."""

    connected = True

    def __init__(self) -> None:
        self._ids = 0
        self.sent = 0

    def action_id_for_next(self) -> str:
        self._ids += 1
        return f"replay-{self._ids}"

    def send_action(
        self, action: Mapping[str, Any], *, lite: bool = False, low_priority: bool = False
    ) -> asyncio.Future[Reply]:
        encode_action(action)
        self.sent += 1
        fut: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        fut.set_result({"Response": "Success"})
        return fut


def leg_token(stream: bytes) -> str | None:
    """The run token in the recorded agent-leg ids (`ccr-<token>-<n>`), so the replaying
    node names its legs as the recorded one did and matches their events."""
    m = _LEG_ID.search(stream)
    return m.group(1).decode() if m else None


async def replay_cpu_s(config: Config, reads: Sequence[bytes], agents: Sequence[str]) -> tuple[float, int]:
    """(CPU seconds to process `reads`, interactions admitted) with every agent logged in
    first (not counted). The recording must start with the node's first offer."""
    from cc_router.wiring import build

    built = build(config)
    service = built.service
    node: Any = built.nodes[0]
    node.exit_unknown_numbers = False
    conn = _NullConnection()
    node.conn = conn
    token = leg_token(b"".join(reads))
    if token is not None:
        node.registry.run_token = token
    node.registry.leg_seq = 0
    arrived = 0

    def count(event: ev.Event, _now: float) -> None:
        nonlocal arrived
        if isinstance(event, ev.InteractionArrived):
            arrived += 1

    service.listeners.append(count)
    supervisor = node.supervisor
    dispatcher = AmiConnection(
        "127.0.0.1", 0, "replay", supervisor.secret, on_event=node.on_ami_event, name="replay"
    )

    def drain() -> None:
        while supervisor.outbox:
            action, on_reply = supervisor.outbox.popleft()
            conn.send_action(action).add_done_callback(supervisor.reply_handler(action, on_reply))

    for agent in agents:
        service.submit(ev.AgentLoggedIn(agent))
    drain()
    splitter = FrameSplitter()
    splitter.banner = ""
    # This thread only: the live service's store thread may still be flushing.
    started = time.thread_time()
    for data in reads:
        frames = splitter.feed(data)
        if frames:
            dispatcher._on_frames(frames)
        drain()
        # Let done-callbacks and deferred submits run, as the live loop would.
        await asyncio.sleep(0)
    return time.thread_time() - started, arrived
