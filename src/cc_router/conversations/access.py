"""Who may read a conversation: the agent holding its interaction, and supervisors.

Until user accounts exist the API token stands for a supervisor (see `principal_of`);
`may_read` is the one rule, so swapping in real roles changes only `principal_of`.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from enum import StrEnum

from starlette.requests import Request

from cc_router.http.auth import configured_token
from cc_router.service import Service


class Role(StrEnum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class Principal:
    role: Role
    agent_id: str | None = None


def principal_of(request: Request, service: Service) -> Principal | None:
    """The caller, or None when not authenticated. The API token (bearer header, or
    `?token=` for EventSource) is a supervisor's."""
    token = configured_token(service)
    if token is None:
        return None
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    given = value.strip() if scheme.lower() == "bearer" else request.query_params.get("token", "")
    if given and hmac.compare_digest(given.encode(), token.encode()):
        return Principal(Role.SUPERVISOR)
    return None


def may_read(who: Principal, holder: str | None) -> bool:
    """`holder`: the agent connected to the conversation's interaction now, if any."""
    if who.role in (Role.SUPERVISOR, Role.ADMIN):
        return True
    return who.role is Role.AGENT and who.agent_id is not None and who.agent_id == holder
