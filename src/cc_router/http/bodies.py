"""Request bodies of the supervisor actions; unknown keys are errors, as in the config."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, RootModel

from cc_router.config.models import SKILL_LEVEL_MAX, SKILL_LEVEL_MIN, SkillName, StepConfig


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PauseBody(_Body):
    reason: str = Field(default="break", min_length=1, max_length=64, description="Shown on the wallboard.")
    max_s: float | None = Field(
        default=None, gt=0, le=86_400, description="Back to ready by itself after this many seconds."
    )


class ReasonBody(_Body):
    reason: str | None = Field(
        default=None, min_length=1, max_length=200, description="Why (kept in the audit table)."
    )


class SkillsBody(
    RootModel[dict[SkillName, Annotated[int, Field(ge=SKILL_LEVEL_MIN, le=SKILL_LEVEL_MAX, strict=True)]]]
):
    """The agent's complete skill set (`{skill: level}`), replacing the current one."""


class QueuePatch(_Body):
    priority: int | None = Field(default=None, ge=-1000, le=1000)
    steps: list[StepConfig] | None = Field(
        default=None, description="Replaces the queue's escalation steps (after_s increasing)."
    )


class MoveBody(_Body):
    queue: str = Field(min_length=1, description="Queue to move the waiting interaction to (same channel).")


class PriorityBody(_Body):
    priority: int = Field(
        ge=-1000, le=1000, strict=True, description="The waiting interaction's own priority (higher first)."
    )
