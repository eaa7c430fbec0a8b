"""What a task submission is, and the errors task operations raise.

A task is a non-voice interaction (chat, e-mail, SMS, fax); its task id is the core's
interaction id.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from cc_router.core.spec import Channel

TASK_CHANNELS = frozenset(c for c in Channel if c is not Channel.VOICE)
_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$"


class TaskError(Exception):
    """A task operation refused; `status` is the HTTP status that says why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _to_str(v: Any) -> Any:
    # JSON senders put numbers in attributes ({"order": 1234}); attributes are tags.
    if isinstance(v, int | float) and not isinstance(v, bool):
        return str(v)
    return v


class TaskSubmission(BaseModel):
    model_config = ConfigDict(extra="forbid", str_max_length=100_000)

    task_id: Annotated[str, Field(pattern=_ID_PATTERN)] | None = Field(
        default=None, description="Chosen by the submitter for idempotent retries; omitted: generated."
    )
    channel: Channel
    queue: Annotated[str, Field(min_length=1, max_length=128)]
    priority: int = Field(default=0, ge=-1000, le=1000)
    customer: Annotated[str, Field(max_length=256)] = ""
    subject: Annotated[str, Field(max_length=1024)] = ""
    body: str = ""
    attributes: dict[
        Annotated[str, Field(max_length=128)],
        Annotated[str, BeforeValidator(_to_str), Field(max_length=4096)],
    ] = Field(default_factory=dict)
    prefer_agent: Annotated[str, Field(min_length=1, max_length=128)] | None = Field(
        default=None,
        description="Offer it to this agent first (e.g. who answered the customer before), if logged in.",
    )
    prefer_wait_s: float | None = Field(
        default=None, ge=0, le=86_400, description="How long that agent has first; then the queue."
    )

    def with_id(self) -> TaskSubmission:
        if self.task_id is not None:
            return self
        return self.model_copy(update={"task_id": f"task-{uuid.uuid4().hex}"})


class TaskAction(BaseModel):
    """Body of accept / reject / complete."""

    model_config = ConfigDict(extra="forbid")

    agent_id: Annotated[str, Field(min_length=1, max_length=128)]
    disposition: Annotated[str, Field(max_length=128)] = ""


class TransferRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    queue: Annotated[str, Field(min_length=1, max_length=128)]
    agent_id: Annotated[str, Field(max_length=128)] | None = None
    """The agent handing the task on (checked against who holds it)."""
    to_agent: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    """Offer it to this agent only; if they do not take it, it waits in `queue`."""


def validation_message(err: ValidationError) -> str:
    """One line per problem: `field: why`."""
    parts = []
    for e in err.errors():
        where = ".".join(str(p) for p in e["loc"]) or "body"
        parts.append(f"{where}: {e['msg']}")
    return "; ".join(parts)
