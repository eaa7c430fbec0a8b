"""Wraps a supervisor action so that, once it has succeeded, who did what to which target
(before -> after) is written to the audit table before the answer goes out.

The action itself (authorisation, checks, the core event) is unchanged: this only reads
the target before and after it, and records nothing for a refused or failed action.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import Request
from starlette.responses import JSONResponse

from cc_router.accounts.access import resolve
from cc_router.console.audit import AuditAction, AuditEntry, TargetKind
from cc_router.console.targets import snapshot
from cc_router.http.auth import presented_token
from cc_router.service import Service

log = structlog.get_logger("cc_router.audit")


async def _reason(request: Request) -> str | None:
    """The body's `reason` (a pause's reason, or why an agent was unpaused or logged out)."""
    raw = await request.body()
    try:
        data: Any = json.loads(raw) if raw.strip() else None
    except (ValueError, UnicodeDecodeError):
        return None
    reason = data.get("reason") if isinstance(data, dict) else None
    return reason if isinstance(reason, str) and reason else None


def _service(request: Request) -> Service:
    service: Service = request.app.state.ctx.service
    return service


async def audited(
    request: Request,
    action: AuditAction,
    kind: TargetKind,
    target: str,
    run: Callable[[], Awaitable[JSONResponse]],
) -> JSONResponse:
    service = _service(request)
    book = service.parts.audit
    before = snapshot(service, action, kind, target)
    response = await run()
    if book is None or response.status_code >= 300:
        return response
    token = presented_token(request, allow_query=False)
    who = resolve(service, token) if token else None
    entry = AuditEntry(
        user=who.user if who else "?",
        role=who.role.value if who else "?",
        action=action,
        kind=kind,
        target=target,
        before=before,
        after=snapshot(service, action, kind, target),
        reason=await _reason(request),
        client=request.client.host if request.client else "?",
    )
    try:
        await book.record(entry)
    except (SQLAlchemyError, OSError) as e:
        # The change is made; the log line keeps what the table could not.
        log.error(
            "audit_not_stored",
            user=entry.user,
            action=action.value,
            target=f"{kind.value}:{target}",
            error=type(e).__name__,
        )
        message = "the change is applied but its audit row could not be stored: the store is unavailable"
        return JSONResponse({"error": message}, status_code=503)
    log.info("audited", user=entry.user, action=action.value, target=f"{kind.value}:{target}")
    return response
