"""Offers of tasks to agent desktops: which are pending per agent, and who is told.

Fed by the task tracker (inside the routing loop), so everything here is synchronous and
never blocks: MQTT publishers get a callback, HTTP long-polls and SSE streams get a
bounded per-subscriber queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import structlog

log = structlog.get_logger("cc_router.omni.offers")

OfferListener = Callable[[str, "DesktopOffer", str], None]
"""(kind, offer, reason): kind is "offer" (new) or "closed" (accepted, cancelled, gone)."""


@dataclass(frozen=True, slots=True)
class DesktopOffer:
    offer_id: str
    task_id: str
    agent_id: str
    channel: str
    queue: str
    timeout_s: float
    offered_at: float
    task: Mapping[str, Any] = field(default_factory=dict)

    def payload(self) -> dict[str, Any]:
        return {
            "offer_id": self.offer_id,
            "task_id": self.task_id,
            "agent_id": self.agent_id,
            "channel": self.channel,
            "queue": self.queue,
            "timeout_s": self.timeout_s,
            "offered_at": self.offered_at,
            "expires_at": self.offered_at + self.timeout_s,
            "task": dict(self.task),
        }


class OfferBoard:
    def __init__(self, subscriber_queue_size: int = 100) -> None:
        self.by_agent: dict[str, dict[str, DesktopOffer]] = {}
        self.by_offer: dict[str, DesktopOffer] = {}
        self.by_task: dict[str, set[str]] = {}
        self.listeners: list[OfferListener] = []
        self._subscribers: dict[str, set[asyncio.Queue[tuple[str, DesktopOffer, str]]]] = {}
        self._queue_size = subscriber_queue_size

    def pending(self, agent_id: str) -> list[DesktopOffer]:
        return sorted(self.by_agent.get(agent_id, {}).values(), key=lambda o: o.offered_at)

    def add(self, offer: DesktopOffer) -> None:
        self.by_offer[offer.offer_id] = offer
        self.by_task.setdefault(offer.task_id, set()).add(offer.offer_id)
        self.by_agent.setdefault(offer.agent_id, {})[offer.offer_id] = offer
        self._tell("offer", offer, "")

    def close(self, offer_id: str, reason: str) -> DesktopOffer | None:
        offer = self.by_offer.pop(offer_id, None)
        if offer is None:
            return None
        ids = self.by_task.get(offer.task_id)
        if ids is not None:
            ids.discard(offer_id)
            if not ids:
                del self.by_task[offer.task_id]
        mine = self.by_agent.get(offer.agent_id)
        if mine is not None:
            mine.pop(offer_id, None)
            if not mine:
                del self.by_agent[offer.agent_id]
        self._tell("closed", offer, reason)
        return offer

    def close_task(self, task_id: str, reason: str) -> None:
        for offer_id in list(self.by_task.get(task_id, ())):
            self.close(offer_id, reason)

    def _tell(self, kind: str, offer: DesktopOffer, reason: str) -> None:
        for listener in self.listeners:
            try:
                listener(kind, offer, reason)
            except Exception:
                log.exception("offer_listener_failed", offer_id=offer.offer_id)
        for q in list(self._subscribers.get(offer.agent_id, ())):
            try:
                q.put_nowait((kind, offer, reason))
            except asyncio.QueueFull:
                # A desktop that stopped reading loses its stream, not the router's time.
                self._subscribers[offer.agent_id].discard(q)
                log.warning("offer_subscriber_dropped", agent_id=offer.agent_id)

    @contextlib.contextmanager
    def subscribe(self, agent_id: str) -> Any:
        q: asyncio.Queue[tuple[str, DesktopOffer, str]] = asyncio.Queue(self._queue_size)
        self._subscribers.setdefault(agent_id, set()).add(q)
        try:
            yield q
        finally:
            subs = self._subscribers.get(agent_id)
            if subs is not None:
                subs.discard(q)
                if not subs:
                    del self._subscribers[agent_id]

    async def wait_pending(self, agent_id: str, timeout_s: float) -> list[DesktopOffer]:
        """Long-poll: the agent's pending offers, waiting up to `timeout_s` for a first one."""
        if self.by_agent.get(agent_id) or timeout_s <= 0:
            return self.pending(agent_id)
        deadline = time.monotonic() + timeout_s
        with self.subscribe(agent_id) as q:
            while not self.by_agent.get(agent_id):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                try:
                    async with asyncio.timeout(left):
                        await q.get()
                except TimeoutError:
                    break
        return self.pending(agent_id)
