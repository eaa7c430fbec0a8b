"""Config for the supervisor console: the phone each supervisor listens on."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ConsoleConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    phones: dict[str, str] = Field(
        default_factory=dict,
        description="User name -> the supervisor's own phone as Asterisk dials it (PJSIP/sup-1).",
    )
    ring_timeout_s: float = Field(default=20, gt=0, description="How long the supervisor's phone rings.")
