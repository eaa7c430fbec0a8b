"""Who is asking, and what each role may do.

- `agent`: acts only on its own agent (state, offers, tasks, dispositions).
- `supervisor`: acts on agents and interactions within its scope (queues and/or seat
  pools; no scope: the whole centre), never on the configuration.
- `admin`: everything; the `http.token` machine token is an admin.
- `viewer`: reads only, with callers' numbers and names hidden (wallboard screens).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from enum import StrEnum


class Role(StrEnum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"
    VIEWER = "viewer"


@dataclass(frozen=True)
class Principal:
    user: str
    role: Role
    agent_id: str | None = None
    queues: frozenset[str] = field(default_factory=frozenset)
    pools: frozenset[str] = field(default_factory=frozenset)

    @property
    def unscoped(self) -> bool:
        return not self.queues and not self.pools

    @property
    def hides_callers(self) -> bool:
        return self.role is Role.VIEWER

    def may_act_on_agent(self, agent_id: str, agent_queues: Collection[str], agent_pool: str) -> bool:
        """`agent_queues`: queues the agent can serve; `agent_pool`: its seat pool."""
        if self.role is Role.ADMIN:
            return True
        if self.role is Role.AGENT:
            return agent_id == self.agent_id
        if self.role is Role.SUPERVISOR:
            if self.unscoped:
                return True
            return agent_pool in self.pools or any(q in self.queues for q in agent_queues)
        return False

    def may_act_on_queue(self, queue: str) -> bool:
        if self.role is Role.ADMIN:
            return True
        if self.role is Role.SUPERVISOR:
            # A pool-only scope does not reach queues (their callers come from everywhere).
            return self.unscoped or queue in self.queues
        return False


MACHINE = Principal(user="(http.token)", role=Role.ADMIN)
"""The holder of the configured API token."""
