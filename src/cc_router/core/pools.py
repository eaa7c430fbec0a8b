"""Indexes that make a routing decision cost nearly the same at 200 or 20,000 agents.

A *pool* holds the free agents that satisfy one requirement, ordered by one strategy.
A *bucket* holds the interactions waiting in one queue at one escalation step, in
service order. Both are binary heaps with lazy deletion: an entry carries the token
its agent or interaction had when it was pushed, and any change of availability
bumps the token, which makes every older entry stale in O(1) for all heaps at once.
"""

from __future__ import annotations

import heapq
import math
import random
from dataclasses import dataclass, field

from cc_router.core.expr import Node, positive_skills
from cc_router.core.records import AgentRec, InteractionRec, QueueRec
from cc_router.core.spec import Channel, Strategy
from cc_router.core.vocabulary import Stage

AgentEntry = tuple[tuple[float, ...], int, str, int]
InteractionEntry = tuple[tuple[float, ...], str, int]

# Enum members are read through EnumType's attribute hook, several times slower than a
# module global; the hot path compares against these instead.
_WAITING = Stage.WAITING
_LONGEST_IDLE, _FEWEST, _ROUND_ROBIN = (
    Strategy.LONGEST_IDLE,
    Strategy.FEWEST_INTERACTIONS,
    Strategy.ROUND_ROBIN,
)
_LINEAR, _RANDOM, _WEIGHTED = Strategy.LINEAR, Strategy.RANDOM, Strategy.WEIGHTED_RANDOM


@dataclass(slots=True, eq=False)
class Pool:
    channel: Channel
    requirement: Node
    strategy: Strategy
    scope: str
    """Queue name for strategies that remember per queue (round robin), else empty."""
    members: set[str] = field(default_factory=set)
    heap: list[AgentEntry] = field(default_factory=list)
    logged_in: int = 0
    rr_memory: dict[str, int] = field(default_factory=dict)
    rr_seq: int = 0
    score_skills: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        self.score_skills = positive_skills(self.requirement)

    def skill_score(self, agent: AgentRec) -> float:
        skills = agent.spec.skills
        return float(sum(skills.get(s, 0) for s in self.score_skills))

    def key(self, agent: AgentRec, rng: random.Random) -> tuple[float, ...]:
        """Smaller is better. Fixed while the agent stays free, so it can live in a heap."""
        s = self.strategy
        if s is _LONGEST_IDLE:
            return (agent.idle_since, agent.index)
        if s is _FEWEST:
            return (agent.handled, agent.idle_since, agent.index)
        if s is _ROUND_ROBIN:
            return (self.rr_memory.get(agent.id, -1), agent.index)
        if s is _LINEAR:
            return (agent.index,)
        if s is _RANDOM:
            return (rng.random(), agent.index)
        if s is _WEIGHTED:
            # Exponential race: the smallest Exp(weight) draw wins with probability
            # proportional to weight (Efraimidis-Spirakis), so a heap can hold it.
            w = agent.spec.weight
            return (rng.expovariate(w) if w > 0 else math.inf, agent.index)
        return (-self.skill_score(agent), agent.idle_since, agent.index)

    def push(self, agent: AgentRec, rng: random.Random, seq: int) -> AgentEntry:
        entry = (self.key(agent, rng), seq, agent.id, agent.token)
        heapq.heappush(self.heap, entry)
        return entry

    def compact(self, agents: dict[str, AgentRec]) -> None:
        live = [e for e in self.heap if (a := agents.get(e[2])) is not None and a.token == e[3]]
        heapq.heapify(live)
        self.heap = live

    def remember_offer(self, agent_id: str) -> None:
        if self.strategy is _ROUND_ROBIN:
            self.rr_seq += 1
            self.rr_memory[agent_id] = self.rr_seq


@dataclass(slots=True, eq=False)
class Bucket:
    queue: QueueRec
    step: int
    pool: Pool
    priority_boost: int = 0
    heap: list[InteractionEntry] = field(default_factory=list)
    live: int = 0

    @property
    def channel(self) -> Channel:
        return self.pool.channel

    def entry_key(self, inter: InteractionRec) -> tuple[float, ...]:
        prio = self.queue.spec.priority + inter.priority + self.priority_boost
        return (-prio, inter.order_time, inter.seq)

    def push(self, inter: InteractionRec) -> None:
        heapq.heappush(self.heap, (self.entry_key(inter), inter.id, inter.token))
        self.live += 1

    def peek(self, inters: dict[str, InteractionRec]) -> InteractionEntry | None:
        heap = self.heap
        while heap:
            top = heap[0]
            it = inters.get(top[1])
            if it is not None and it.token == top[2] and it.stage is _WAITING:
                return top
            heapq.heappop(heap)
        return None

    def valid_sorted(self, inters: dict[str, InteractionRec]) -> list[InteractionEntry]:
        """Every live entry in service order; only for rare slow paths."""
        return sorted(
            e
            for e in self.heap
            if (it := inters.get(e[1])) is not None and it.token == e[2] and it.stage is _WAITING
        )
