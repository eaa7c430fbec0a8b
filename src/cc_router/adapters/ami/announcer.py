"""Announcements to callers on hold: position and expected wait, and the callback offer.

When each caller is told is `core/announce_schedule.py`, what it is told
`core/announce.py`; this part only plays it. An announcement is a Local channel that
joins the caller's own holding bridge (`ccr-<Uniqueid>`, ccr-inbound) as its *announcer*:
while it speaks the caller's music pauses, and it resumes by itself when the announcer
leaves. The caller never leaves its hold for it, so an agent who answers meanwhile is
bridged at once (dialplans/README.md, `ccr-announce`).
"""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import Sequence

import structlog

from cc_router.adapters.ami import actions as act
from cc_router.adapters.ami.node import AmiNode
from cc_router.adapters.ami.registry import CallerLeg, CallerStage
from cc_router.config import Config
from cc_router.config.waiting import AnnounceConfig, CallbackConfig
from cc_router.core import commands as cmd
from cc_router.core.announce import AnnouncePolicy, Say, compose, offer_callback
from cc_router.core.announce_schedule import AnnounceSchedule
from cc_router.core.estimate import Estimator
from cc_router.core.spec import Channel
from cc_router.core.vocabulary import ENTRY_REASONS, Stage
from cc_router.service import Handled, Service

log = structlog.get_logger("cc_router.ami.announce")

ANNOUNCE_CONTEXT = "ccr-announce"
SILENT = AnnouncePolicy(position=False, wait=False, every_s=3600.0)
"""Schedule entry of a queue that only offers callbacks: nothing to say periodically."""
SECONDS_PER_ITEM = 2.5
"""A generous length of one prompt or number ("the estimated hold time is currently" is
about 2.5 s): a holding bridge takes one announcer at a time, a second is refused."""
_ENDS = (cmd.InteractionConnected, cmd.InteractionFinished, cmd.ExitInteraction, cmd.CallbackAccepted)


def say_items(says: Sequence[Say]) -> str:
    """`f:<file>` and `n:<number>` joined by `&`, as ccr-announce reads them."""
    return "&".join(f"n:{s.number}" if s.number is not None else f"f:{s.file}" for s in says)


def announce_action(caller_uniqueid: str, says: Sequence[Say], language: str) -> act.Action:
    return {
        "Action": "Originate",
        # ;2 joins the caller's holding bridge (exten = the caller's Uniqueid), ;1 speaks.
        "Channel": f"Local/{caller_uniqueid}@{ANNOUNCE_CONTEXT}/n",
        "Context": ANNOUNCE_CONTEXT,
        "Exten": "say",
        "Priority": "1",
        "Timeout": "5000",
        "Async": "true",
        "CallerID": "<announce>",
        "Variable": [f"CCR_SAY={say_items(says)}", f"CCR_SAYLANG={language}"],
    }


class Announcer:
    """A service sink (callers join and leave the schedule) and a component (`run`)."""

    name = "announcer"

    def __init__(self, service: Service, nodes: Sequence[AmiNode], estimator: Estimator) -> None:
        self.service = service
        self.nodes = list(nodes)
        self.estimator = estimator
        self.schedule = AnnounceSchedule()
        self._offers: list[tuple[float, str]] = []
        self._offer_due: dict[str, float] = {}
        self._wake = asyncio.Event()
        self._speaking: dict[str, float] = {}
        """Until when each caller's last announcement is expected to play."""
        self._config: Config | None = None
        self._by_queue: dict[str, tuple[AnnounceConfig | None, CallbackConfig | None]] = {}
        self.sent = 0
        """Announcements handed to Asterisk (tests, metrics)."""

    # ------------------------------------------------------------------ sink

    def observe(self, batch: Sequence[Handled]) -> None:
        """The service's observer (told after the expected-wait estimator, which it reads)."""
        for _, commands, at, _ in batch:
            self.sink(commands, at)

    def sink(self, commands: Sequence[cmd.Command], now: float) -> None:
        for c in commands:
            if isinstance(c, cmd.InteractionQueued):
                if c.channel is Channel.VOICE and (c.reason in ENTRY_REASONS):
                    self._join(c.interaction_id, c.queue, now)
            elif isinstance(c, _ENDS):
                self.schedule.leave(c.interaction_id)
                self._offer_due.pop(c.interaction_id, None)
                self._speaking.pop(c.interaction_id, None)

    def _join(self, iid: str, queue: str, now: float) -> None:
        q = self._queue(queue)
        if q is None:
            return
        announce, callback = q
        if announce is None and (callback is None or callback.offer_after_s is None):
            self.schedule.leave(iid)
            return
        self.schedule.join(iid, announce.policy() if announce is not None else SILENT, now)
        if callback is not None and callback.offer_after_s is not None:
            due = now + callback.offer_after_s
            self._offer_due[iid] = due
            heapq.heappush(self._offers, (due, iid))
        self._wake.set()

    def _queue(self, name: str) -> tuple[AnnounceConfig | None, CallbackConfig | None] | None:
        config = self.service.config
        if self._config is not config:  # a reload replaces the config object
            self._config = config
            self._by_queue = {q.name: (q.announce, q.callback) for q in config.queues}
        return self._by_queue.get(name)

    # ------------------------------------------------------------------ component

    async def run(self) -> None:
        while True:
            now = self.service.clock()
            self.tick(now)
            wake = self.next_wake()
            delay = 1.0 if wake is None else min(1.0, max(0.05, wake - now))
            self._wake.clear()
            try:
                async with asyncio.timeout(delay):
                    await self._wake.wait()
            except TimeoutError:
                pass

    def next_wake(self) -> float | None:
        times = [t for t in (self.schedule.next_wake(), self._offers[0][0] if self._offers else None) if t]
        return min(times) if times else None

    def tick(self, now: float) -> None:
        """Start every announcement due by `now`."""
        due = self.schedule.due(now)
        offers: set[str] = set()
        while self._offers and self._offers[0][0] <= now:
            at, iid = heapq.heappop(self._offers)
            if self._offer_due.get(iid) == at:
                del self._offer_due[iid]
                offers.add(iid)
        if not due and not offers:
            return
        router = self.service.router
        positions: dict[str, dict[str, int]] = {}
        for iid in dict.fromkeys([*due, *offers]):
            it = router.interactions.get(iid)
            # Not while an agent rings for it (about to be connected), nor once it is gone.
            if it is None or it.stage is not Stage.WAITING or it.bucket is None:
                continue
            found = self._caller(iid)
            if found is None:
                continue
            node, caller = found
            q = self._queue(it.queue.name)
            if q is None:
                continue
            announce, _ = q
            prompts = self.service.config.announcements.prompts_for(it.attributes.get("lang", ""))
            says: list[Say] = []
            if iid in due and announce is not None:
                queue_positions = positions.get(it.queue.name)
                if queue_positions is None:
                    # One ordering per queue and tick, however many of its callers are due.
                    order = router.waiting_in(it.queue.name)
                    queue_positions = positions[it.queue.name] = {w.id: n for n, w in enumerate(order, 1)}
                says += compose(
                    announce.policy(),
                    queue_positions.get(iid),
                    self.estimator.expected_wait(iid, now),
                    prompts,
                )
            if iid in offers:
                if self._speaking.get(iid, 0.0) > now:
                    # A holding bridge takes one announcer at a time: offer once it is done.
                    self._postpone_offer(iid, self._speaking[iid])
                else:
                    says += offer_callback(prompts)
            if not says or self._speaking.get(iid, 0.0) > now:
                continue
            self._speaking[iid] = now + SECONDS_PER_ITEM * len(says) + 2.0
            log.debug("announce", iid=iid, node=node.node, items=len(says), callback_offer=iid in offers)
            node.enqueue(announce_action(caller.uniqueid, says, prompts.language))
            self.sent += 1

    def _postpone_offer(self, iid: str, at: float) -> None:
        self._offer_due[iid] = at
        heapq.heappush(self._offers, (at, iid))

    def _caller(self, iid: str) -> tuple[AmiNode, CallerLeg] | None:
        for node in self.nodes:
            caller = node.registry.by_iid.get(iid)
            if caller is not None and caller.stage is CallerStage.WAITING:
                return node, caller
        return None
