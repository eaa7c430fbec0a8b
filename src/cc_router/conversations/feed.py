"""Live events of conversations for whoever watches them (customer pages, agent desktops).

Published from the routing loop and from request handlers; never blocks: each watcher has
a bounded queue, and one that stops reading is dropped (its page reconnects and reloads).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any

Event = dict[str, Any]


class LiveFeed:
    def __init__(self, queue_size: int = 200) -> None:
        self._watchers: dict[str, set[asyncio.Queue[Event]]] = {}
        self._queue_size = queue_size

    def publish(self, conv_id: str, event: Event) -> None:
        for q in list(self._watchers.get(conv_id, ())):
            try:
                q.put_nowait(event)
            except asyncio.QueueFull:
                self._watchers[conv_id].discard(q)

    @contextlib.contextmanager
    def watch(self, conv_id: str) -> Iterator[asyncio.Queue[Event]]:
        q: asyncio.Queue[Event] = asyncio.Queue(self._queue_size)
        self._watchers.setdefault(conv_id, set()).add(q)
        try:
            yield q
        finally:
            subs = self._watchers.get(conv_id)
            if subs is not None:
                subs.discard(q)
                if not subs:
                    del self._watchers[conv_id]

    def watching(self, conv_id: str) -> int:
        return len(self._watchers.get(conv_id, ()))
