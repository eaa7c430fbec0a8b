"""Token -> principal -> allowed or not, shared by every adapter that takes actions
(HTTP here, MQTT): one rule for who may act on which agent or queue."""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterable

from cc_router.accounts.book import AccountBook
from cc_router.accounts.roles import MACHINE, Principal, Role
from cc_router.config import environment
from cc_router.service import Service


def configured_token(service: Service) -> str | None:
    return environment.api_token(service.config.http.token)


def account_book(service: Service) -> AccountBook | None:
    return service.parts.accounts


def control_possible(service: Service) -> bool:
    """False when nobody could ever be authorised: no machine token and no accounts."""
    return configured_token(service) is not None or account_book(service) is not None


def resolve(service: Service, token: str) -> Principal | None:
    machine = configured_token(service)
    if machine is not None and hmac.compare_digest(token.encode(), machine.encode()):
        return MACHINE
    book = account_book(service)
    return None if book is None else book.principal(token)


def agent_scope(service: Service, agent_id: str) -> tuple[list[str], str]:
    """Queues the agent can serve and its seat pool (what a supervisor's scope is matched on)."""
    rec = service.router.agents.get(agent_id)
    live = service.parts.live
    info = live.agent(agent_id) if live is not None else None
    queues = list(info.get("queues", ())) if isinstance(info, dict) else []
    return queues, rec.spec.pool if rec is not None else ""


def refusal(
    service: Service, p: Principal, *, agent_id: str | None = None, queues: Iterable[str] = ()
) -> str | None:
    """Why `p` may not act on the agent / every queue named (no target: admin only), or None."""
    targets = list(queues)
    if p.role is Role.VIEWER:
        return f"{p.user} is a viewer: reads only"
    if agent_id is None and not targets:
        return None if p.role is Role.ADMIN else f"only an admin may do this ({p.user} is {p.role.value})"
    if agent_id is not None:
        agent_queues, pool = agent_scope(service, agent_id)
        if not p.may_act_on_agent(agent_id, agent_queues, pool):
            return f"{p.user} ({p.role.value}) may not act on agent {agent_id}"
    for q in targets:
        if not p.may_act_on_queue(q):
            return f"{p.user} ({p.role.value}) may not act on queue {q}"
    return None


def session_check(service: Service) -> Callable[[str, str], str | None] | None:
    """For adapters that see a token and an agent id (MQTT commands): None when no accounts
    are attached, else a check returning None (allowed), "" (unknown token) or why not."""
    if account_book(service) is None:
        return None

    def check(token: str, agent_id: str) -> str | None:
        p = resolve(service, token)
        if p is None:
            return ""
        return refusal(service, p, agent_id=agent_id)

    return check


def interaction_check(service: Service) -> Callable[[str, str], str | None] | None:
    """As `session_check`, for commands on one interaction (MQTT priority): the interaction's
    queue must be within the principal's scope. An unknown interaction is left to the
    command to report, for those who may act on interactions at all."""
    if account_book(service) is None:
        return None

    def check(token: str, interaction_id: str) -> str | None:
        p = resolve(service, token)
        if p is None:
            return ""
        it = service.router.interactions.get(interaction_id)
        if it is None:
            return None if p.role in (Role.ADMIN, Role.SUPERVISOR) else refusal(service, p)
        return refusal(service, p, queues=[it.queue.name])

    return check
