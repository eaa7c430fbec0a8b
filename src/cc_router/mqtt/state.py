"""Retained state topics: `{prefix}/state/queues/{queue}` and `{prefix}/state/agents/{id}`.

The payloads are `LiveView.queue()` / `LiveView.agent()` without the fields that move with
the clock (`longest_wait_s`, `time_in_state_s`: a retained copy of those would be stale;
clients tick them from `oldest_since` / `state_since`), plus

- `version`: grows by one each time this topic's content changes,
- `global_version`: grows by one for every state publish on any topic, so a client
  watching many topics can order them.

The sink only marks what changed (O(1) per command); `collect()`, run by the publisher
task, builds payloads, skips topics whose content did not change, and holds back a topic
published less than `min_interval_s` ago (bursts coalesce into one publish).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from cc_router.core import commands as cmd
from cc_router.core import events as ev
from cc_router.core.router import Router
from cc_router.live import LiveView
from cc_router.mqtt.topics import Topics, valid_segment

CLOCK_FIELDS = ("longest_wait_s", "time_in_state_s")

Key = tuple[str, str]
"""("q", queue name) or ("a", agent id)."""


def _content(d: dict[str, Any]) -> dict[str, Any]:
    for f in CLOCK_FIELDS:
        d.pop(f, None)
    return d


class RetainedState:
    def __init__(self, router: Router, view: LiveView, topics: Topics, min_interval_s: float = 0.2) -> None:
        self.router = router
        self.view = view
        self.topics = topics
        self.min_interval_s = min_interval_s
        self.global_version = 0
        self._queues_dirty = True
        self._agents_dirty: set[str] = set()
        self._all_dirty = True
        self._content: dict[Key, dict[str, Any]] = {}
        self._version: dict[Key, int] = {}
        self._payload: dict[Key, bytes] = {}
        self._published_at: dict[Key, float] = {}

    # ------------------------------------------------------------------ marking (sync, cheap)

    @property
    def dirty(self) -> bool:
        return self._all_dirty or self._queues_dirty or bool(self._agents_dirty)

    def on_event(self, event: ev.Event, now: float) -> None:
        if isinstance(event, ev.QueueChanged | ev.CentreReplaced):
            self._all_dirty = True
        elif isinstance(event, ev.AgentSkillsChanged):
            self._agents_dirty.add(event.agent_id)
            self._queues_dirty = True

    def on_commands(self, commands: Sequence[cmd.Command]) -> None:
        for c in commands:
            if isinstance(c, cmd.AgentStateChanged):
                self._agents_dirty.add(c.agent_id)
                # queue payloads count agents by state
                self._queues_dirty = True
            elif isinstance(c, cmd.Offer | cmd.CancelOffer | cmd.InteractionConnected):
                self._agents_dirty.add(c.agent_id)
                self._queues_dirty = True
            elif isinstance(c, cmd.InteractionFinished):
                if c.agent_id is not None:
                    self._agents_dirty.add(c.agent_id)
                self._queues_dirty = True
            elif isinstance(c, cmd.InteractionQueued | cmd.ExitInteraction):
                self._queues_dirty = True

    # ------------------------------------------------------------------ collecting (publisher task)

    def _topic(self, key: Key) -> str:
        kind, name = key
        return self.topics.queue_state(name) if kind == "q" else self.topics.agent_state(name)

    def collect(
        self, mono_now: float, *, republish: bool = False
    ) -> tuple[list[tuple[str, bytes]], float | None]:
        """Messages to publish now (topic, payload) and when to look again for held-back ones.

        `republish` (after a (re)connect): every topic goes out again, unchanged ones with
        their current version, whatever the interval; topics of queues and agents that no
        longer exist are cleared with an empty retained message.
        """
        everything = republish or self._all_dirty
        candidates: dict[Key, dict[str, Any]] = {}
        if everything or self._queues_dirty:
            for q in self.view.queues():
                candidates["q", q["name"]] = _content(q)
        agent_ids = list(self.router.agents) if everything else list(self._agents_dirty)
        for aid in agent_ids:
            a = self.view.agent(aid)
            if a is not None:
                candidates["a", aid] = _content(a)
        self._all_dirty = self._queues_dirty = False
        self._agents_dirty = set()

        out: list[tuple[str, bytes]] = []
        next_due: float | None = None
        if everything:
            for key in [k for k in self._content if k not in candidates]:
                # Gone from the config: an empty retained message deletes the topic.
                out.append((self._topic(key), b""))
                del self._content[key], self._payload[key], self._published_at[key]
        for key, content in candidates.items():
            if not valid_segment(key[1]):
                continue
            if content == self._content.get(key):
                if republish:
                    out.append((self._topic(key), self._payload[key]))
                continue
            last = self._published_at.get(key)
            if not republish and last is not None and mono_now - last < self.min_interval_s:
                # Held back: remember it is dirty and come back when its interval is over.
                if key[0] == "q":
                    self._queues_dirty = True
                else:
                    self._agents_dirty.add(key[1])
                due = last + self.min_interval_s
                next_due = due if next_due is None else min(next_due, due)
                continue
            version = self._version.get(key, 0) + 1
            self.global_version += 1
            payload = json.dumps(
                {**content, "version": version, "global_version": self.global_version},
                ensure_ascii=False,
                default=str,
            ).encode()
            self._content[key], self._version[key], self._payload[key] = content, version, payload
            self._published_at[key] = mono_now
            out.append((self._topic(key), payload))
        return out, next_due
