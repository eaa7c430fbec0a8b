"""Agent desktop commands: `{prefix}/agents/{agent_id}/command` → core events.

Payload (JSON object):
    {"action": "login" | "ready" | "pause" | "unpause" | "logout",
     "reason": "break",        # pause only; shown to supervisors
     "max_s": 300,             # pause only; back to ready by itself after this long
     "token": "...",           # see authorisation below
     "request_id": "..."}      # optional; echoed in the result

`ready` means "make me available": unpause if paused, log in if logged out, otherwise end
wrap-up early (a no-op when there is nothing to end).

Authorisation: `token` is the control API token (`http.token` / CC_ROUTER_API_TOKEN, an
admin) or a session token from `POST /api/auth/login`; an agent's session acts only on its
own agent, a supervisor's within its scope (`cc_router.accounts.roles`). With neither a
token nor accounts configured, commands are refused, as the HTTP API's actions are.

Every command gets one result on `{prefix}/agents/{agent_id}/result`:
    {"ok": true, "action": ..., "agent_id": ..., "state": "ready", "request_id": ...}
    {"ok": false, "error": "why", "agent_id": ..., "action": ... | null, "request_id": ...}
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable, Sequence
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from cc_router.core import commands as cmd
from cc_router.core import events as ev
from cc_router.core.router import Router
from cc_router.core.vocabulary import Presence

MAX_PAYLOAD = 4096
M = TypeVar("M", bound=BaseModel)


class AgentCommand(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    action: Literal["login", "ready", "pause", "unpause", "logout"]
    reason: str = Field(default="break", min_length=1, max_length=64)
    max_s: float | None = Field(default=None, gt=0, le=86_400)
    token: SecretStr | None = None
    request_id: str | None = Field(default=None, max_length=128)


class CommandError(Exception):
    """A command that cannot be carried out; the message goes back in the result."""


def decode(payload: bytes) -> dict[str, Any]:
    """A command payload as a JSON object, or CommandError saying why not."""
    if len(payload) > MAX_PAYLOAD:
        raise CommandError(f"payload too large ({len(payload)} bytes, at most {MAX_PAYLOAD})")
    try:
        data = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CommandError(f"payload is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise CommandError("payload must be a JSON object")
    return data


def validated(model: type[M], data: dict[str, Any]) -> M:
    """`data` as `model`, or CommandError naming each field that is wrong."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'payload'}: {e['msg']}" for e in exc.errors()
        )
        raise CommandError(f"invalid command: {problems}") from None


def parse(payload: bytes) -> AgentCommand:
    return validated(AgentCommand, decode(payload))


def _request_id(payload: bytes) -> str | None:
    """The request id of a payload that may fail validation, so even errors can be matched."""
    try:
        data = json.loads(payload) if len(payload) <= MAX_PAYLOAD else None
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    rid = data.get("request_id") if isinstance(data, dict) else None
    return rid[:128] if isinstance(rid, str) else None


SessionCheck = Callable[[str, str], str | None]
"""(token, agent id) -> None when allowed, else why not ("" for an unknown token)."""


def authorise(
    command: AgentCommand,
    api_token: SecretStr | None,
    sessions: SessionCheck | None = None,
    agent_id: str = "",
) -> None:
    given = command.token.get_secret_value() if command.token is not None else ""
    authorise_token(given, api_token, sessions, agent_id)


def authorise_token(
    given: str, api_token: SecretStr | None, sessions: SessionCheck | None, target: str
) -> None:
    """The machine token, or a login's session allowed on `target` by `sessions`."""
    machine = api_token.get_secret_value() if api_token is not None else ""
    if (
        sessions is not None
        and given
        and not (machine and hmac.compare_digest(given.encode(), machine.encode()))
    ):
        why = sessions(given, target)
        if why is None:
            return
        raise CommandError(why or "bad token")
    check_token(SecretStr(given) if given else None, api_token)


def check_token(token: SecretStr | None, api_token: SecretStr | None) -> None:
    """Raise `CommandError` unless `token` is the configured control API token."""
    if api_token is None or not api_token.get_secret_value():
        # Same rule as the HTTP control API: no token configured means no control at all,
        # never control for anyone.
        raise CommandError("control commands are disabled: set http.token or CC_ROUTER_API_TOKEN")
    given = token.get_secret_value() if token is not None else ""
    if not given:
        raise CommandError("token required")
    if not hmac.compare_digest(given.encode(), api_token.get_secret_value().encode()):
        raise CommandError("bad token")


def event_for(router: Router, agent_id: str, command: AgentCommand) -> ev.Event | None:
    """The core event carrying out `command`, or None when there is nothing to do."""
    agent = router.agents.get(agent_id)
    if agent is None:
        raise CommandError(f"unknown agent {agent_id!r}")
    action = command.action
    if action == "login":
        return ev.AgentLoggedIn(agent_id)
    if action == "logout":
        return ev.AgentLoggedOut(agent_id)
    if action == "pause":
        return ev.AgentPaused(agent_id, reason=command.reason, max_s=command.max_s)
    if action == "unpause":
        return ev.AgentUnpaused(agent_id)
    # ready
    if agent.presence is Presence.PAUSED:
        return ev.AgentUnpaused(agent_id)
    if agent.presence is Presence.LOGGED_OUT:
        return ev.AgentLoggedIn(agent_id)
    if agent.wrapping:
        return ev.AgentWrapUpDone(agent_id)
    return None


def execute(
    router: Router,
    submit: Callable[[ev.Event], Sequence[cmd.Command]],
    api_token: SecretStr | None,
    agent_id: str,
    payload: bytes,
    sessions: SessionCheck | None = None,
) -> dict[str, Any]:
    """Parse, authorise and carry out one command; the result payload, never an exception."""
    result: dict[str, Any] = {"agent_id": agent_id, "action": None, "request_id": _request_id(payload)}
    try:
        command = parse(payload)
        result["action"], result["request_id"] = command.action, command.request_id
        authorise(command, api_token, sessions, agent_id)
        event = event_for(router, agent_id, command)
        if event is not None:
            rejected = cmd.rejection(submit(event), event)
            if rejected is not None:
                raise CommandError(rejected.reason)
    except CommandError as exc:
        return {"ok": False, "error": str(exc), **result}
    agent = router.agents[agent_id]
    return {"ok": True, **result, "state": str(agent.state), "reason": agent.state_reason}
