"""Several Asterisk nodes, one routing domain: which agents a caller may reach, and at what cost.

Topology is data (`TopologySpec`): the node each seat pool's phones are on and the trunks
between nodes, each with an optional `max_calls`. A caller is on the node that holds its
channel (`InteractionArrived.attributes["node"]`, set by the AMI adapter); an agent is on
its pool's node. A caller reaches an agent on another node only over a trunk with room,
and each queue says how much its callers' own node counts (`Locality`).

`Topology` is the core's working state for it: per pool, one heap of free agents per node
(the pool's own heap stays the single-node path, untouched), and which interactions hold
which trunk. Pure: no IO, time comes with the caller's state.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from cc_router.core.pools import AgentEntry, Pool
from cc_router.core.records import AgentRec, InteractionRec
from cc_router.core.spec import Strategy, TopologySpec, trunk_key
from cc_router.core.vocabulary import Locality, RemoteChoice, Stage

NODE_ATTRIBUTE = "node"
"""The interaction attribute naming the Asterisk node that holds the caller."""

_HOLDING = frozenset({Stage.OFFERED, Stage.CONNECTED})
_MERIT = frozenset({Strategy.BEST_SKILL, Strategy.FEWEST_INTERACTIONS})
"""Strategies whose first key is a merit (skill, calls handled): an agent better by it is
not "equally good". Under the others every eligible free agent is."""


@dataclass(frozen=True, slots=True)
class Choice:
    """The agent a node-aware look picked, with what the explanation needs."""

    agent: AgentRec
    score: tuple[float, ...]
    excluded: list[tuple[str, str]]
    remote: RemoteChoice | None
    route: str
    """`caller node->agent node` when they differ, else empty."""


class Topology:
    def __init__(self, spec: TopologySpec) -> None:
        self.spec = spec
        self.active = len(spec.nodes) > 1
        self.trunks = {t.key: t for t in spec.trunks}
        self.heaps: dict[Pool, dict[str, list[AgentEntry]]] = {}
        self.use: dict[tuple[str, str], dict[str, str]] = {}
        """Trunk -> {interaction id: agent id} of the offers and calls over it."""
        self.down: set[tuple[str, str]] = set()
        """Trunks that carry no new calls now (TrunkDown until TrunkUp)."""
        self.nodes_down: set[str] = set()
        """Nodes that cannot be reached now (NodeDown until NodeUp): their callers wait,
        as no agent leg can be placed for them there."""

    def rebuilt(self, spec: TopologySpec) -> Topology:
        """For a rebuilt centre: new pools (so no heaps yet), the same calls over trunks."""
        out = Topology(spec)
        out.use, out.down, out.nodes_down = self.use, self.down, self.nodes_down
        return out

    # ------------------------------------------------------------------ where things are

    def agent_node(self, a: AgentRec) -> str:
        return self.spec.pool_node.get(a.spec.pool, "")

    @staticmethod
    def caller_node(it: InteractionRec) -> str:
        return it.attributes.get(NODE_ATTRIBUTE, "")

    def in_use(self, key: tuple[str, str], interactions: Mapping[str, InteractionRec]) -> int:
        """Calls over a trunk now; offers that ended are dropped as they are found."""
        held = self.use.get(key)
        if not held:
            return 0
        for iid, aid in list(held.items()):
            it = interactions.get(iid)
            if it is None or it.agent_id != aid or it.stage not in _HOLDING:
                del held[iid]
        return len(held)

    def refusal(
        self, it: InteractionRec, a: AgentRec, interactions: Mapping[str, InteractionRec]
    ) -> str | None:
        """Why `a` may not take `it` (None: it may). Only across nodes is there a reason."""
        here, there = self.caller_node(it), self.agent_node(a)
        if here in self.nodes_down:
            return f"the caller's node {here} cannot be reached"
        if not here or not there or here == there:
            return None
        if it.queue.spec.locality is Locality.ONLY:
            return f"on node {there}; queue {it.queue.name} takes agents on {here} only"
        trunk = self.trunks.get(trunk_key(here, there))
        if trunk is None:
            return f"on node {there}; no trunk from {here}"
        if trunk.key in self.down:
            return f"on node {there}; trunk {here}-{there} down"
        if trunk.max_calls is not None and self.in_use(trunk.key, interactions) >= trunk.max_calls:
            return f"on node {there}; trunk {here}-{there} full ({trunk.max_calls} calls)"
        return None

    def route(self, it: InteractionRec, a: AgentRec) -> str:
        here, there = self.caller_node(it), self.agent_node(a)
        return f"{here}->{there}" if here and there and here != there else ""

    # ------------------------------------------------------------------ trunk use

    def taken(self, it: InteractionRec, a: AgentRec) -> None:
        """An offer of `it` to `a` was made: over a trunk, it counts there until it ends."""
        here, there = self.caller_node(it), self.agent_node(a)
        if here and there and here != there:
            self.use.setdefault(trunk_key(here, there), {})[it.id] = a.id

    # ------------------------------------------------------------------ free agents per node

    def push(self, pool: Pool, a: AgentRec, entry: AgentEntry, agents: Mapping[str, AgentRec]) -> None:
        """`a` is free in `pool` (the same entry as in the pool's own heap)."""
        node = self.agent_node(a)
        if not node:
            return
        per_node = self.heaps.setdefault(pool, {})
        heap = per_node.setdefault(node, [])
        heapq.heappush(heap, entry)
        if len(heap) > 2 * len(pool.members) + 32:
            per_node[node] = _live(heap, agents)

    def choose(
        self,
        it: InteractionRec,
        pool: Pool,
        agents: Mapping[str, AgentRec],
        interactions: Mapping[str, InteractionRec],
        excluded_for: Callable[[AgentRec], bool],
    ) -> Choice | None:
        """The agent for `it` from `pool` by node, or None when none may take it.

        The best free agent of each node is looked at (a refusal applies to a whole node:
        its trunk or the queue's locality), then the queue's locality decides."""
        here = self.caller_node(it)
        excluded: list[tuple[str, str]] = []
        tops: dict[str, tuple[AgentEntry, AgentRec]] = {}
        for node, heap in self.heaps.get(pool, {}).items():
            top = _top(heap, agents, excluded_for, excluded)
            if top is None:
                continue
            why = self.refusal(it, top[1], interactions) if node != here else None
            if why is not None:
                excluded.append((top[1].id, why))
                continue
            tops[node] = top
        if not tops:
            return None
        local = tops.get(here)
        remote = min((t for n, t in tops.items() if n != here), default=None, key=lambda t: t[0])
        locality = it.queue.spec.locality
        pick: tuple[AgentEntry, AgentRec]
        why_remote: RemoteChoice | None = None
        if local is None:
            assert remote is not None
            pick, why_remote = remote, RemoteChoice.NO_LOCAL_AGENT
        elif remote is None:
            pick = local
        elif locality is Locality.OFF:
            pick = min(local, remote, key=lambda t: t[0])
            why_remote = RemoteChoice.LOCALITY_OFF if pick is remote else None
        elif pool.strategy in _MERIT and remote[0][0][0] < local[0][0][0]:
            pick, why_remote = remote, RemoteChoice.BETTER_REMOTE
        else:
            pick = local
        agent = pick[1]
        return Choice(agent, pick[0][0], excluded, why_remote, self.route(it, agent))


def _top(
    heap: list[AgentEntry],
    agents: Mapping[str, AgentRec],
    excluded_for: Callable[[AgentRec], bool],
    excluded: list[tuple[str, str]],
) -> tuple[AgentEntry, AgentRec] | None:
    """The best valid entry of a node heap (stale ones dropped; excluded ones kept)."""
    set_aside: list[AgentEntry] = []
    found: tuple[AgentEntry, AgentRec] | None = None
    while heap:
        top = heap[0]
        a = agents.get(top[2])
        if a is None or a.token != top[3]:
            heapq.heappop(heap)
            continue
        if excluded_for(a):
            excluded.append((a.id, "missed this interaction recently"))
            set_aside.append(heapq.heappop(heap))
            continue
        found = (top, a)
        break
    for entry in set_aside:
        heapq.heappush(heap, entry)
    return found


def _live(heap: list[AgentEntry], agents: Mapping[str, AgentRec]) -> list[AgentEntry]:
    live = [e for e in heap if (a := agents.get(e[2])) is not None and a.token == e[3]]
    heapq.heapify(live)
    return live
