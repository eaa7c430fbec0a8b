"""Who may read a conversation and who may answer it, by the caller's role.

- `agent`: only a conversation whose interaction it holds now, and replies as itself.
- `supervisor`: conversations of the queues in its scope, or held now by an agent of its
  seat pools (no scope: the whole centre); it reads, it does not answer for an agent.
- `admin` (and the `http.token` machine token): every conversation; it may post a reply
  naming the holding agent (an integration that answers for the desktop).
- `viewer`: none (a wallboard screen has no business reading customers' messages).

Transcripts are personal data, so unlike the other reads they always need a login.
"""

from __future__ import annotations

from starlette.requests import Request

from cc_router.accounts.access import agent_scope, resolve
from cc_router.accounts.roles import Principal, Role
from cc_router.http.auth import presented_token
from cc_router.omni.tasks import TaskError
from cc_router.service import Service


def principal_of(request: Request, service: Service) -> Principal:
    """The caller (bearer header, or `?token=` for EventSource), else 401."""
    given = presented_token(request, allow_query=True)
    if given is None:
        raise TaskError(401, "conversations need a login (bearer header or ?token=)")
    who = resolve(service, given)
    if who is None:
        raise TaskError(401, "wrong or expired token")
    return who


def may_read(service: Service, who: Principal, queue: str, holder: str | None) -> bool:
    """`queue`: the conversation's queue; `holder`: the agent connected to its interaction now."""
    if who.role is Role.ADMIN:
        return True
    if who.role is Role.AGENT:
        return who.agent_id is not None and who.agent_id == holder
    if who.role is Role.SUPERVISOR:
        if who.may_act_on_queue(queue):
            return True
        if holder is None or not who.pools:
            return False
        # A seat-pool supervisor reads what the agents of its pools hold.
        _, pool = agent_scope(service, holder)
        return pool in who.pools
    return False


def replying_agent(who: Principal, asked: str | None) -> str:
    """The agent a reply is sent as: an agent's own; an admin names the holding agent."""
    if who.role is Role.AGENT:
        if who.agent_id is None:
            raise TaskError(403, f"{who.user} has no agent id")
        if asked is not None and asked != who.agent_id:
            raise TaskError(403, f"{who.user} may not reply as agent {asked}")
        return who.agent_id
    if who.role is Role.ADMIN:
        if not asked:
            raise TaskError(422, "name the agent replying (agent_id)")
        return asked
    raise TaskError(403, f"{who.user} ({who.role.value}) may read conversations, not answer them")
