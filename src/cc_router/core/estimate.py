"""Expected wait of a waiting interaction, from the router's live state.

Pure like the rest of the core: it reads a `Router`, is told the router's commands
(`observe`) and is given the time (`now`). It never changes the router.

The estimate for interaction X, waiting in bucket B (its queue at its current step) whose
pool of eligible agents is P:

- *Supply*: the logged-in, unpaused agents of P, each freeing a slot once per handle time
  (talk + wrap-up, that agent's running mean): together `rate` slots per second. If one
  of them is free now, X waits for nobody (the router would already have given that
  agent anything it could take).
- *Demand ahead*: the interactions that P's agents will take before X. In X's own bucket,
  all those ahead of X in the serving order; in every other bucket whose pool shares agents
  with P, those ahead of X in the same cross-queue order (priority, then seniority),
  counted by the share of that bucket's agents that are also in P.
- X's wait: the line of `ahead + 1` drains at `rate`, and faster because callers in it
  hang up (the queue's recent abandons per second waited). A later escalation step that
  widens P is taken when it would connect X sooner.

Unknown (None) when no agent who could serve X is logged in and unpaused.

Handle times and patience are running figures updated once per finished interaction and
per ended wrap-up (O(1) per event), per agent, shrunk towards the mean of the agent's
channel while an agent has few interactions behind it. Each pool's supply is kept agent
by agent: a command or event about an agent re-counts what it adds to each of its pools
(O(its pools)), and a few other agents are re-counted in turn with every batch so that
channel means reach idle agents too. Only a rebuilt configuration re-counts everything.
Reads between two events share one sort of each bucket's serving order.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from cc_router.core import commands as cmd
from cc_router.core.pools import Bucket, InteractionEntry, Pool
from cc_router.core.records import AgentRec, InteractionRec
from cc_router.core.spec import Channel
from cc_router.core.vocabulary import ABANDONED_OUTCOMES, Outcome, Presence, Stage

if TYPE_CHECKING:
    from collections.abc import Sequence

    from cc_router.core.router import Router

AGENT_ALPHA = 0.1
"""Weight of the newest sample in an agent's running mean (about its last 10 interactions)."""
CHANNEL_ALPHA = 0.02
SHRINK_N = 5.0
"""An agent's own mean counts as much as the channel's after this many interactions."""
ROLLING_TOUCH = 1
"""Agents re-counted in turn with every command batch, besides those the batch concerns: at
30 calls/s (about 180 batches a second) 20,000 agents are all re-counted within two minutes,
and handle-time priors move far slower than that."""
PATIENCE_DECAY = 0.995
"""Per finished caller: the patience figure forgets with a half-life of about 140 callers."""
DEFAULT_TALK_S = 180.0
"""Talk time assumed before the centre has finished a single interaction."""
_AGENT_COMMANDS = (cmd.AgentStateChanged, cmd.Offer, cmd.CancelOffer, cmd.InteractionConnected)
"""Commands after which an agent may add other free slots or another rate to its pools."""
_NOT_WAITING = frozenset({Outcome.TRANSFERRED})
"""Visits whose wait says nothing about patience (the time was spent talking)."""


@dataclass(slots=True)
class RunningMean:
    value: float = 0.0
    n: int = 0

    def add(self, x: float, alpha: float) -> None:
        # Plain mean for the first samples, then exponential: early figures settle fast.
        self.n += 1
        w = max(alpha, 1.0 / self.n)
        self.value += w * (x - self.value)


@dataclass(slots=True)
class Patience:
    """How soon callers of one queue hang up while waiting: abandons per second waited
    (the rate of an exponential patience), over a decaying window of recent callers."""

    abandons: float = 0.0
    waited_s: float = 0.0

    def add(self, waited_s: float, abandoned: bool) -> None:
        self.abandons = self.abandons * PATIENCE_DECAY + abandoned
        self.waited_s = self.waited_s * PATIENCE_DECAY + waited_s

    @property
    def hazard(self) -> float:
        return self.abandons / self.waited_s if self.waited_s > 0.0 else 0.0


@dataclass(slots=True)
class HandleTimes:
    """Talk and wrap-up means per agent and per channel, fed by the router's commands."""

    default_talk_s: float = DEFAULT_TALK_S
    talk: dict[str, RunningMean] = field(default_factory=dict)
    wrap: dict[str, RunningMean] = field(default_factory=dict)
    channel_talk: dict[Channel, RunningMean] = field(default_factory=dict)
    channel_wrap: dict[Channel, RunningMean] = field(default_factory=dict)
    ended: dict[tuple[str, str], tuple[float, Channel]] = field(default_factory=dict)
    """(agent, interaction) -> when its talk ended, until its wrap-up ends."""

    def finished(self, f: cmd.InteractionFinished, wrapup_s: float) -> None:
        if f.answered_at is None or f.agent_id is None:
            return
        self.talk.setdefault(f.agent_id, RunningMean()).add(f.talk_s, AGENT_ALPHA)
        self.channel_talk.setdefault(f.channel, RunningMean()).add(f.talk_s, CHANNEL_ALPHA)
        if wrapup_s > 0:
            self.ended[(f.agent_id, f.interaction_id)] = (f.ended_at, f.channel)
        else:
            self._wrap(f.agent_id, f.channel, 0.0)

    def wrap_ended(self, w: cmd.WrapUpEnded) -> None:
        started = self.ended.pop((w.agent_id, w.interaction_id), None)
        if started is not None:
            self._wrap(w.agent_id, started[1], max(0.0, w.at - started[0]))

    def _wrap(self, agent_id: str, ch: Channel, s: float) -> None:
        self.wrap.setdefault(agent_id, RunningMean()).add(s, AGENT_ALPHA)
        self.channel_wrap.setdefault(ch, RunningMean()).add(s, CHANNEL_ALPHA)

    def talk_s(self, agent_id: str, ch: Channel) -> float:
        prior = self.channel_talk.get(ch)
        base = prior.value if prior is not None and prior.n else self.default_talk_s
        return _shrunk(self.talk.get(agent_id), base)

    def wrap_s(self, agent_id: str, ch: Channel, configured: float) -> float:
        prior = self.channel_wrap.get(ch)
        base = prior.value if prior is not None and prior.n else configured
        return _shrunk(self.wrap.get(agent_id), base)

    def wrap_started(self, agent_id: str, interaction_id: str) -> float | None:
        got = self.ended.get((agent_id, interaction_id))
        return got[0] if got is not None else None


def _shrunk(own: RunningMean | None, prior: float) -> float:
    if own is None or not own.n:
        return prior
    n = min(float(own.n), 1.0 / AGENT_ALPHA)
    return (n * own.value + SHRINK_N * prior) / (n + SHRINK_N)


class Supply:
    """How fast the agents of one pool take interactions: slots free now, and the rate at
    which busy slots free up (the sum of 1 / handle time over the pool's working agents)."""

    __slots__ = ("free", "rate")

    def __init__(self, free: float, rate: float) -> None:
        self.free = free
        self.rate = rate

    def wait(self, ahead: float, hazard: float) -> float:
        """Seconds until a slot is free for the interaction with `ahead` in front of it.

        The k-th next completion among busy slots comes after k / rate (exact when handle
        times are exponential). Those ahead also hang up, each at `hazard` per second, so
        the line in front drains as dn/dt = -rate - hazard * n: it is gone after
        ln(1 + hazard * n / rate) / hazard."""
        if self.free > 0:
            # A free agent and a caller it could take never coexist for long (the router
            # offers at once), so whatever waits elsewhere is not in the way.
            return 0.0
        need = ahead + 1.0
        x = hazard * need / self.rate
        if x < 1e-6:
            return need / self.rate
        return math.log1p(x) / hazard


class Estimator:
    """Expected waits for the interactions a `Router` holds. Tell it each event before the
    router handles it (`expect`) and each command batch after (`observe`)."""

    def __init__(self, router: Router, default_talk_s: float = DEFAULT_TALK_S) -> None:
        self.router = router
        self.handle = HandleTimes(default_talk_s)
        self.patience: dict[str, Patience] = {}
        self._version = 0
        self._entries: dict[int, list[InteractionEntry]] = {}
        self._cached_version = -1
        self._overlap: dict[int, list[tuple[float, Bucket]]] = {}
        self._centre: object = None
        self._supply: dict[int, Supply] = {}
        """id(pool) -> its supply, kept up to date agent by agent (see `_touch`)."""
        self._pools: list[Pool] = []
        """The pools those ids belong to (held so an id is never reused while in use)."""
        self._expected: set[str] = set()
        self._roster: list[str] = []
        self._cursor = 0
        self._given: dict[str, dict[Channel, tuple[int, float]]] = {}
        """agent -> per channel, the (free slots, rate) it adds to each of its pools."""

    # ------------------------------------------------------------------ feeding

    def expect(self, event: object) -> None:
        """Told each event before the router handles it: an agent's presence can change
        without a command saying so (paused while ringing or talking)."""
        agent_id = getattr(event, "agent_id", None)
        if isinstance(agent_id, str):
            self._expected.add(agent_id)

    def observe(self, commands: Sequence[cmd.Command]) -> None:
        queues = self.router.queues
        touched, self._expected = self._expected, set()
        for c in commands:
            if isinstance(c, cmd.InteractionFinished):
                f = c
                q = queues.get(f.queue)
                self.handle.finished(f, q.spec.wrapup_s if q is not None else 0.0)
                if f.outcome not in _NOT_WAITING:
                    abandoned = f.outcome in ABANDONED_OUTCOMES
                    self.patience.setdefault(f.queue, Patience()).add(f.wait_s, abandoned)
                if f.agent_id is not None:
                    touched.add(f.agent_id)
            elif isinstance(c, cmd.WrapUpEnded):
                self.handle.wrap_ended(c)
                touched.add(c.agent_id)
            elif isinstance(c, _AGENT_COMMANDS):
                touched.add(c.agent_id)
        self._version += 1
        if not self._sync():
            # Only batches with commands roll: most events (an AMI event the router took
            # note of) change nothing, and rolling on each cost more than the routing.
            if commands:
                self.roll()
            agents = self.router.agents
            for aid in touched:
                a = agents.get(aid)
                if a is not None:
                    self._touch(a)

    def roll(self, n: int = ROLLING_TOUCH) -> None:
        """Re-count the next `n` agents in turn: an agent nothing happened to for a while
        still follows the channel's handle times (its prior) within a bounded lag."""
        roster, agents = self._roster, self.router.agents
        for _ in range(min(n, len(roster))):
            self._cursor = (self._cursor + 1) % len(roster)
            a = agents.get(roster[self._cursor])
            if a is not None:
                self._touch(a)

    # ------------------------------------------------------------------ reading

    def expected_wait(self, interaction_id: str, now: float) -> float | None:
        """Seconds until the interaction is expected to be offered to an agent; None if
        that cannot be said (nobody who could take it is working)."""
        it = self.router.interactions.get(interaction_id)
        if it is None or it.stage is not Stage.WAITING or it.bucket is None:
            return None
        return self._estimate(it, now)

    def expected_waits(self, now: float) -> dict[str, float | None]:
        """Every waiting interaction's expected wait (one supply per pool for all)."""
        return {
            it.id: self._estimate(it, now)
            for it in self.router.interactions.values()
            if it.stage is Stage.WAITING and it.bucket is not None
        }

    def expected_wait_new(self, queue: str, now: float, priority: int = 0) -> float | None:
        """What a caller joining `queue` now with `priority` would be told."""
        q = self.router.queues.get(queue)
        if q is None:
            return None
        self._fresh()
        best: float | None = None
        for step, b in enumerate(q.buckets):
            bucket = b
            key = (-(q.spec.priority + priority + bucket.priority_boost), now, math.inf)
            after = q.spec.steps[step - 1].after_s if step else 0.0
            best = _sooner(best, self._in_bucket(bucket, key, now, after))
        return best

    def longest(self, queue: str, now: float) -> float | None:
        """The longest expected wait among those waiting in `queue`: in each of its
        buckets the last in serving order waits longest."""
        q = self.router.queues.get(queue)
        if q is None or not q.waiting:
            return None
        self._fresh()
        worst: float | None = None
        inters = self.router.interactions
        for b in q.buckets:
            bucket = b
            if not bucket.live:
                continue
            entries = self._entries_of(bucket)
            it = inters.get(entries[-1][1]) if entries else None
            got = self._estimate(it, now) if it is not None else None
            if got is not None and (worst is None or got > worst):
                worst = got
        return worst

    def _estimate(self, it: InteractionRec, now: float) -> float | None:
        self._fresh()
        q = it.queue
        best: float | None = None
        for step in range(it.step, len(q.buckets)):
            bucket = q.buckets[step]
            key = bucket.entry_key(it)
            due = it.queue_joined_at + q.spec.steps[step - 1].after_s - now if step > it.step else 0.0
            if best is not None and due >= best:
                break
            best = _sooner(best, self._in_bucket(bucket, key, now, due))
        return best

    def _in_bucket(
        self, bucket: Bucket, key: tuple[float, ...], now: float, not_before: float
    ) -> float | None:
        supply = self.supply_of(bucket.pool)
        if supply is None:
            return None
        patience = self.patience.get(bucket.queue.name)
        hazard = patience.hazard if patience is not None else 0.0
        return max(not_before, supply.wait(self._ahead(bucket, key), hazard))

    # ------------------------------------------------------------------ demand

    def _ahead(self, bucket: Bucket, key: tuple[float, ...]) -> float:
        ahead = 0.0
        for share, other in self._rivals(bucket.pool):
            if other.live:
                # Entries are (key, id, token): (key,) sorts before every entry with that key.
                ahead += share * bisect.bisect_left(self._entries_of(other), (key,))
        return ahead

    def _rivals(self, mine: Pool) -> list[tuple[float, Bucket]]:
        """Every bucket whose agents include some of `mine`'s, with the share of its agents
        that are (cached per configuration)."""
        got = self._overlap.get(id(mine))
        if got is None:
            got = []
            for q in self.router.queues.values():
                if q.spec.channel is not mine.channel:
                    continue
                for b in q.buckets:
                    other = b.pool
                    members = other.members
                    if other is mine:
                        got.append((1.0, b))
                    elif members and not mine.members.isdisjoint(members):
                        got.append((len(mine.members & members) / len(members), b))
            self._overlap[id(mine)] = got
        return got

    def _entries_of(self, bucket: Bucket) -> list[InteractionEntry]:
        got = self._entries.get(id(bucket))
        if got is None:
            got = bucket.valid_sorted(self.router.interactions)
            self._entries[id(bucket)] = got
        return got

    # ------------------------------------------------------------------ supply

    def _fresh(self) -> None:
        # The serving order only changes with the router's state: every read between two
        # events shares it, whatever its `now`.
        self._sync()
        if self._cached_version != self._version:
            self._cached_version = self._version
            self._entries.clear()

    def supply_of(self, pool: Pool) -> Supply | None:
        """Free slots and finishing rate of a pool's working agents; None if none works."""
        self._sync()
        supply = self._supply.get(id(pool))
        return supply if supply is not None and supply.rate > 1e-9 else None

    def _sync(self) -> bool:
        """Recount every pool's supply if the router's pools were rebuilt (configuration
        or skills changed); True if it did."""
        router = self.router
        if router.centre is self._centre:
            return False
        self._centre = router.centre
        self._overlap = {}
        self._pools = list(router.pools.values())
        self._supply = {id(p): Supply(0, 0.0) for p in self._pools}
        self._given = {}
        self._roster = list(router.agents)
        self._cursor = 0
        for a in router.agents.values():
            self._touch(a)
        return True

    def _touch(self, a: AgentRec) -> None:
        """Bring what `a` adds to each of its pools up to date: O(its pools)."""
        old = self._given.get(a.id, {})
        new: dict[Channel, tuple[int, float]] = {}
        if a.presence is Presence.READY:
            free_now = a.free_channels()
            ht = self.handle
            for ch in a.pools:
                slots = a.profile.capacity.get(ch, 0)
                if slots:
                    cycle = max(1.0, ht.talk_s(a.id, ch) + ht.wrap_s(a.id, ch, 0.0))
                    free = slots - a.load.get(ch, 0) if ch in free_now else 0
                    new[ch] = (free, slots / cycle)
        if new == old:
            return
        supply = self._supply
        for ch in old.keys() | new.keys():
            of, orate = old.get(ch, (0, 0.0))
            nf, nrate = new.get(ch, (0, 0.0))
            if of == nf and orate == nrate:
                continue
            for p in a.pools.get(ch, ()):
                got = supply.get(id(p))
                if got is not None:
                    got.free += nf - of
                    got.rate += nrate - orate
        if new:
            self._given[a.id] = new
        else:
            self._given.pop(a.id, None)


def _sooner(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)
