"""A reference router that decides by scanning every agent and every waiting interaction.

It shares all bookkeeping with `Router` and differs only in how the two routing
questions are answered, so it serves as an oracle in property tests and as the
baseline the benchmark compares the indexed router against.
"""

from __future__ import annotations

from cc_router.core.expr import evaluate
from cc_router.core.matching import Candidate
from cc_router.core.pools import Bucket
from cc_router.core.records import AgentRec, InteractionRec
from cc_router.core.router import Router
from cc_router.core.spec import Channel
from cc_router.core.vocabulary import Stage


class NaiveRouter(Router):
    def _make_available(self, a: AgentRec, channels: list[Channel]) -> None:
        return

    def _find_agent(self, it: InteractionRec, bucket: Bucket) -> Candidate | None:
        pool = bucket.pool
        best: tuple[tuple[float, ...], AgentRec] | None = None
        excluded: list[tuple[str, str]] = []
        free = 0
        for a in self.agents.values():
            if pool.channel not in a.free_channels() or not evaluate(pool.requirement, a.skills):
                continue
            if self._is_excluded(it, a.id):
                excluded.append((a.id, "missed this interaction recently"))
                continue
            free += 1
            key = pool.key(a, self.rng)
            if best is None or key < best[0]:
                best = (key, a)
        if best is None:
            return None
        key, a = best
        return Candidate(it, a, bucket, a.id, key, [(a.id, key)], excluded, free)

    def _find_interaction(self, a: AgentRec, channels: list[Channel]) -> Candidate | None:
        best: tuple[tuple[float, ...], InteractionRec, Bucket] | None = None
        excluded: list[tuple[str, str]] = []
        waiting = 0
        for it in self.interactions.values():
            bucket = it.bucket
            if it.stage is not Stage.WAITING or it.channel not in channels or bucket is None:
                continue
            if not evaluate(bucket.pool.requirement, a.skills):
                continue
            if self._is_excluded(it, a.id):
                excluded.append((it.id, "missed by this agent recently"))
                continue
            waiting += 1
            key = bucket.entry_key(it)
            if best is None or key < best[0]:
                best = (key, it, bucket)
        if best is None:
            return None
        key, it, bucket = best
        return Candidate(it, a, bucket, it.id, key, [(it.id, key)], excluded, waiting)
