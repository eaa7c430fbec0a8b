"""Which agents a list shows (`AgentFilter`) and the order it shows them in (`ATTENTION`).

A floor of 20,000 agents cannot be listed whole on a wall screen or sent to every
browser, so lists are filtered server-side and paged. The default order puts what a
supervisor acts on first: paused (not ready) and wrap-up agents, longest in state first.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from cc_router.core.spec import Channel
from cc_router.core.vocabulary import AgentState

ATTENTION = ("paused", "wrap_up", "busy", "reserved", "ready", "logged_out")
"""State groups in list order; inside a group the agent longest in that state comes first."""
STATE_ALIASES = {"not_ready": ("paused", "wrap_up"), "logged_in": ATTENTION[:-1]}
CHANNELS = tuple(str(c) for c in Channel)


class FilterError(ValueError):
    """A query parameter that names no state, channel, queue or pool we know."""


@dataclass(frozen=True, slots=True)
class AgentFilter:
    queue: str | None = None
    pool: str | None = None
    channel: str | None = None
    states: frozenset[str] | None = None
    """None: every state (logged-out ones only with `include_logged_out`)."""
    search: str = ""
    """Case-insensitive substring of the agent's id or name."""
    include_logged_out: bool = True

    @classmethod
    def parse(
        cls,
        params: Mapping[str, str],
        queues: Collection[str],
        pools: Collection[str],
        default_logged_out: bool = True,
    ) -> AgentFilter:
        """From query parameters `queue`, `pool`, `channel`, `state` (comma-separated states,
        or `not_ready` / `logged_in`), `search`, `logged_out` (true/false)."""
        queue = params.get("queue") or None
        if queue is not None and queue not in queues:
            raise FilterError(f"unknown queue {queue!r}")
        pool = params.get("pool") or None
        if pool is not None and pool not in pools:
            raise FilterError(f"unknown pool {pool!r}")
        channel = params.get("channel") or None
        if channel is not None and channel not in CHANNELS:
            raise FilterError(f"unknown channel {channel!r} (one of {', '.join(CHANNELS)})")
        states: set[str] | None = None
        raw_states = params.get("state") or ""
        if raw_states:
            states = set()
            for s in (p.strip() for p in raw_states.split(",")):
                if s in STATE_ALIASES:
                    states.update(STATE_ALIASES[s])
                elif s in ATTENTION:
                    states.add(s)
                elif s:
                    raise FilterError(f"unknown state {s!r} (one of {', '.join(ATTENTION)}, not_ready)")
        raw_out = params.get("logged_out")
        logged_out = default_logged_out if raw_out is None else raw_out.lower() not in ("0", "false", "no")
        return cls(
            queue=queue,
            pool=pool,
            channel=channel,
            states=None if states is None else frozenset(states),
            search=(params.get("search") or "").strip().lower(),
            include_logged_out=logged_out,
        )

    def shows_state(self, state: str) -> bool:
        if self.states is not None:
            return state in self.states
        return self.include_logged_out or state != AgentState.LOGGED_OUT

    @property
    def dimensions(self) -> int:
        """How many of queue / pool / channel / search narrow the list."""
        return sum(x is not None for x in (self.queue, self.pool, self.channel)) + bool(self.search)

    def as_dict(self) -> dict[str, object]:
        return {
            "queue": self.queue,
            "pool": self.pool,
            "channel": self.channel,
            "state": None if self.states is None else sorted(self.states, key=ATTENTION.index),
            "search": self.search or None,
            "logged_out": self.include_logged_out,
        }
