"""`DesktopHub`: each agent's desktop picture, kept up to date from the router's commands,
and a wake-up per agent for the streams that show it.

A command touches one agent, so it wakes that agent's desktops only: with 20,000 pages
open, a change costs one dict update and one `Event.set`, not a pass over every page.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cc_router.config.desk import OnPauseMax
from cc_router.core import commands as cmd
from cc_router.core.vocabulary import AgentState
from cc_router.desk.figures import DayBook
from cc_router.service import Service, handles


@dataclass
class WrapUp:
    interaction_id: str
    queue: str
    channel: str
    started_at: float
    ends_at: float | None
    code: str = ""


class DesktopHub:
    def __init__(self, service: Service) -> None:
        self.service = service
        self.offers: dict[str, dict[str, Any]] = {}
        """agent -> the router's current offer to it (any channel), as the page shows it."""
        self.wrapups: dict[str, dict[str, WrapUp]] = {}
        self.last_done: dict[str, WrapUp] = {}
        """agent -> the interaction it finished last (a code may still be given for it)."""
        self.days = DayBook(service.config.centre.timezone)
        self.versions: dict[str, int] = {}
        self._waiters: dict[str, set[asyncio.Event]] = {}
        self.task_board: Any = None
        """The omnichannel OfferBoard when attached: task details for chat/e-mail/SMS/fax offers."""
        self.task_summary: Callable[[str], Mapping[str, Any] | None] = lambda iid: None
        """Details of a task in hand (customer, subject, text), when tasks are attached."""

    # ------------------------------------------------------------ fed by the service

    @handles(
        cmd.Offer, cmd.CancelOffer, cmd.InteractionConnected, cmd.InteractionFinished, cmd.WrapUpEnded,
        cmd.AgentStateChanged,
    )  # fmt: skip
    def on_commands(self, commands: Sequence[cmd.Command], now: float) -> None:
        router = self.service.router
        for c in commands:
            if isinstance(c, cmd.Offer):
                it = router.interactions.get(c.interaction_id)
                self.offers[c.agent_id] = {
                    "offer_id": c.offer_id,
                    "interaction_id": c.interaction_id,
                    "channel": str(c.channel),
                    "queue": c.queue,
                    "caller": it.caller if it else "",
                    "attributes": dict(it.attributes) if it else {},
                    "arrived_at": it.arrived_at if it else now,
                    "offered_at": now,
                    "timeout_s": c.timeout_s,
                    "reason": c.explanation.summary(),
                }
                self.wake(c.agent_id)
            elif isinstance(c, cmd.CancelOffer):
                o = self.offers.get(c.agent_id)
                if o is not None and o["offer_id"] == c.offer_id:
                    del self.offers[c.agent_id]
                self.wake(c.agent_id)
            elif isinstance(c, cmd.InteractionConnected):
                o = self.offers.get(c.agent_id)
                if o is not None and o["interaction_id"] == c.interaction_id:
                    del self.offers[c.agent_id]
                self.wake(c.agent_id)
            elif isinstance(c, cmd.InteractionFinished) and c.agent_id is not None:
                self._finished(c)
            elif isinstance(c, cmd.WrapUpEnded):
                self.wrapups.get(c.agent_id, {}).pop(c.interaction_id, None)
                self.wake(c.agent_id)
            elif isinstance(c, cmd.AgentStateChanged):
                self.days.state_ended(c.agent_id, c.previous, c.previous_since, c.at)
                self.wake(c.agent_id)

    def _finished(self, c: cmd.InteractionFinished) -> None:
        aid = c.agent_id
        assert aid is not None
        if c.answered_at is not None:
            self.days.handled(aid, c.ended_at - c.answered_at, c.ended_at)
            spec = self.service.router.centre.queue(c.queue)
            wrap_s = spec.wrapup_s if spec is not None else 0.0
            w = WrapUp(
                c.interaction_id, c.queue, str(c.channel), c.ended_at, c.ended_at + wrap_s if wrap_s else None
            )
            if wrap_s:
                self.wrapups.setdefault(aid, {})[c.interaction_id] = w
            self.last_done[aid] = w
        self.wake(aid)

    def task_offer_changed(self, kind: str, offer: Any, reason: str) -> None:
        """OfferBoard listener: the task's details arrive with (or just after) the router's offer."""
        self.wake(str(offer.agent_id))

    # ------------------------------------------------------------ streams

    def wake(self, agent_id: str) -> None:
        self.versions[agent_id] = self.versions.get(agent_id, 0) + 1
        for e in self._waiters.get(agent_id, ()):
            e.set()

    @contextlib.contextmanager
    def watch(self, agent_id: str) -> Iterator[asyncio.Event]:
        e = asyncio.Event()
        self._waiters.setdefault(agent_id, set()).add(e)
        try:
            yield e
        finally:
            waiters = self._waiters.get(agent_id)
            if waiters is not None:
                waiters.discard(e)
                if not waiters:
                    del self._waiters[agent_id]

    @property
    def watchers(self) -> int:
        return sum(len(w) for w in self._waiters.values())

    # ------------------------------------------------------------ what a page shows

    def wrapup_of(self, agent_id: str, interaction_id: str | None) -> WrapUp | None:
        held = self.wrapups.get(agent_id, {})
        if interaction_id is None:
            return next(reversed(held.values()), None) if held else self.last_done.get(agent_id)
        w = held.get(interaction_id)
        if w is None:
            last = self.last_done.get(agent_id)
            w = last if last is not None and last.interaction_id == interaction_id else None
        return w

    def codes_for(self, queue: str) -> dict[str, Any]:
        d = self.service.config.dispositions.get(queue)
        if d is None:
            return {"required": False, "codes": []}
        return {"required": d.required, "codes": [{"code": x.code, "label": x.label} for x in d.codes]}

    def pause_info(self, reason: str, since: float, now: float) -> dict[str, Any]:
        spec = next((r for r in self.service.config.pause_reasons if r.code == reason), None)
        if spec is None:
            return {
                "code": reason,
                "label": reason,
                "max_s": None,
                "on_max": None,
                "since": since,
                "over": False,
            }
        over = spec.max_s is not None and spec.on_max is OnPauseMax.FLAG and now - since > spec.max_s
        return {
            "code": spec.code,
            "label": spec.label,
            "max_s": spec.max_s,
            "on_max": spec.on_max.value,
            "since": since,
            "over": over,
        }

    def overdue(self) -> list[dict[str, Any]]:
        """Paused agents past their reason's maximum (reasons that flag rather than end)."""
        now = self.service.clock()
        out = []
        for aid, a in self.service.router.agents.items():
            if a.state == AgentState.PAUSED:
                p = self.pause_info(a.state_reason, a.state_since, now)
                if p["over"]:
                    out.append({"agent_id": aid, "name": a.spec.name, **p})
        return out

    def picture(self, agent_id: str, agent: dict[str, Any] | None) -> dict[str, Any]:
        """Everything the agent's page shows; `agent` is the live view's row for it."""
        now = self.service.clock()
        a = self.service.router.agents[agent_id]
        offer = self.offers.get(agent_id)
        offers = []
        if offer is not None:
            o = dict(offer)
            o["wait_s"] = round(now - o.pop("arrived_at"), 1)
            o["expires_at"] = o["offered_at"] + o["timeout_s"]
            task = self._task(agent_id, o["interaction_id"])
            if task is not None:
                o["task"] = task
            offers.append(o)
        wraps = [
            {
                "interaction_id": w.interaction_id,
                "queue": w.queue,
                "channel": w.channel,
                "started_at": w.started_at,
                "ends_at": w.ends_at,
                "code": w.code,
                **self.codes_for(w.queue),
            }
            for w in self.wrapups.get(agent_id, {}).values()
        ]
        if agent is not None:
            for work in agent.get("interactions", ()):
                summary = self.task_summary(str(work.get("id")))
                if summary is not None:
                    work["task"] = dict(summary)
        state = str(a.state)
        paused = a.state == AgentState.PAUSED
        return {
            "now": now,
            "version": self.versions.get(agent_id, 0),
            "agent": agent,
            "offers": offers,
            "wrap_up": wraps,
            "pause": self.pause_info(a.state_reason, a.state_since, now) if paused else None,
            "figures": self.days.public(agent_id, state, a.state_since, now),
        }

    def _task(self, agent_id: str, interaction_id: str) -> dict[str, Any] | None:
        board = self.task_board
        if board is None:
            return None
        for o in board.pending(agent_id):
            if o.task_id == interaction_id:
                return dict(o.task)
        return None
