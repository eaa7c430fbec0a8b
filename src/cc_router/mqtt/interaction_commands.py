"""Supervisor commands on one interaction: `{prefix}/interactions/{interaction_id}/command`.

Payload (JSON object):
    {"action": "priority", "priority": 5,
     "token": "...",           # see authorisation below
     "request_id": "..."}      # optional; echoed in the result

These are supervisor actions, so they need a token whatever the broker's ACLs say: the
control API token (`http.token` / CC_ROUTER_API_TOKEN, an admin) or a session token from
`POST /api/auth/login` of a supervisor whose scope covers the interaction's queue, or of
an admin. An agent's or a viewer's session is refused: an agent's desktop has no business
re-ordering callers. With neither a token nor accounts configured they are refused, as
over HTTP.

Each command gets one result on `{prefix}/interactions/{interaction_id}/result`:
    {"ok": true, "action": "priority", "interaction_id": ..., "priority": 5, "position": 1, ...}
    {"ok": false, "error": "why", "interaction_id": ..., "action": ... | null, "request_id": ...}
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from cc_router.core import commands as cmd
from cc_router.core import events as ev
from cc_router.core.router import Router
from cc_router.mqtt.agent_commands import CommandError, SessionCheck, authorise_token, decode, validated

PRIORITY_LIMIT = 1000
"""Same bounds as the HTTP body."""


class InteractionCommand(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    action: Literal["priority"]
    priority: int = Field(ge=-PRIORITY_LIMIT, le=PRIORITY_LIMIT, strict=True)
    token: SecretStr | None = None
    request_id: str | None = Field(default=None, max_length=128)


def parse(data: dict[str, Any]) -> InteractionCommand:
    return validated(InteractionCommand, data)


def execute(
    router: Router,
    submit: Callable[[ev.Event], Sequence[cmd.Command]],
    api_token: SecretStr | None,
    interaction_id: str,
    payload: bytes,
    sessions: SessionCheck | None = None,
) -> dict[str, Any]:
    """Parse, authorise and carry out one command; the result payload, never an exception.
    `sessions`: (token, interaction id) -> None when a login's session may act on it."""
    result: dict[str, Any] = {"interaction_id": interaction_id, "action": None, "request_id": None}
    try:
        data = decode(payload)
        rid = data.get("request_id")
        result["request_id"] = rid[:128] if isinstance(rid, str) else None
        token = data.get("token")
        # The token first: without it nobody learns whether the interaction or body is valid.
        authorise_token(token if isinstance(token, str) else "", api_token, sessions, interaction_id)
        command = parse(data)
        result["action"] = command.action
        if interaction_id not in router.interactions:
            raise CommandError(f"unknown interaction {interaction_id!r}")
        event = ev.InteractionPriorityChanged(interaction_id, command.priority)
        for c in submit(event):
            if isinstance(c, cmd.EventRejected) and c.event is event:
                raise CommandError(c.reason)
    except CommandError as exc:
        return {"ok": False, "error": str(exc), **result}
    return {
        "ok": True,
        **result,
        "priority": command.priority,
        "position": router.position(interaction_id),
    }
