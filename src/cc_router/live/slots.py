"""Capacity slots per channel: the load logged-in agents hold against their capacity.

An agent on a call with two of three chats counts 1/1 under voice and 2/3 under chat,
not just "busy": `SlotBook` keeps each logged-in agent's (load, capacity) per channel and
the floor's sums, updated one agent at a time.
"""

from __future__ import annotations

from cc_router.core.records import AgentRec
from cc_router.core.spec import Channel
from cc_router.core.vocabulary import AgentState

CHANNEL_ORDER = tuple(Channel)
NO_LOAD = (0,) * len(CHANNEL_ORDER)


def agent_load(a: AgentRec) -> dict[str, dict[str, int]]:
    """{channel: {used, capacity}} for the channels the agent works or holds work on."""
    out: dict[str, dict[str, int]] = {}
    for ch in CHANNEL_ORDER:
        cap = a.profile.capacity.get(ch, 0)
        used = a.load.get(ch, 0)
        if cap or used:
            out[str(ch)] = {"used": used, "capacity": cap}
    return out


class SlotBook:
    def __init__(self) -> None:
        self._agents: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {}
        self.used = [0] * len(CHANNEL_ORDER)
        self.total = [0] * len(CHANNEL_ORDER)

    def clear(self) -> None:
        self._agents.clear()
        self.used = [0] * len(CHANNEL_ORDER)
        self.total = [0] * len(CHANNEL_ORDER)

    def update(self, aid: str, a: AgentRec | None) -> bool:
        """Recount one agent (None or logged out: counts nothing); True if its slots moved."""
        old = self._agents.get(aid)
        new: tuple[tuple[int, ...], tuple[int, ...]] | None = None
        if a is not None and a.state is not AgentState.LOGGED_OUT:
            load, capacity = a.load, a.profile.capacity
            new = (
                tuple(map(load.get, CHANNEL_ORDER, NO_LOAD)) if load else NO_LOAD,
                tuple(map(capacity.get, CHANNEL_ORDER, NO_LOAD)),
            )
        if new == old:
            return False
        used, total = self.used, self.total
        if old is not None:
            for i, n in enumerate(old[0]):
                used[i] -= n
            for i, n in enumerate(old[1]):
                total[i] -= n
            del self._agents[aid]
        if new is not None:
            for i, n in enumerate(new[0]):
                used[i] += n
            for i, n in enumerate(new[1]):
                total[i] += n
            self._agents[aid] = new
        return True

    def of(self, channel: Channel) -> dict[str, int]:
        i = CHANNEL_ORDER.index(channel)
        return {"used": self.used[i], "total": self.total[i]}
