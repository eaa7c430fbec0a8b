"""Config sections for accounts and the agent desktop: sessions, pause reasons, dispositions."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AccountsConfig(_Model):
    session_ttl_s: float = Field(default=12 * 3600, gt=0, description="A login lasts this long.")
    max_failures_per_user: int = Field(default=5, ge=1, description="Failed logins per user per window.")
    max_failures_per_address: int = Field(
        default=20, ge=1, description="Failed logins per client address per window."
    )
    failure_window_s: float = Field(default=300, gt=0)
    refresh_s: float = Field(
        default=10, gt=0, description="Re-read users (disabled ones lose their sessions) this often."
    )


class OnPauseMax(StrEnum):
    READY = "ready"
    """The agent is made ready again."""
    FLAG = "flag"
    """The agent stays paused and is shown as over its time."""


class PauseReasonConfig(_Model):
    code: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    label: str = Field(min_length=1, description="Shown on the desktop (any language).")
    max_s: float | None = Field(default=None, gt=0, description="Longest pause with this reason.")
    on_max: OnPauseMax = OnPauseMax.FLAG


class DispositionCode(_Model):
    code: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    label: str = Field(min_length=1)


class DispositionSet(_Model):
    required: bool = Field(default=False, description="Wrap-up cannot end without a code.")
    codes: list[DispositionCode] = Field(min_length=1)

    def refusal(self, code: str, queue: str) -> str | None:
        """Why `code` ("": none given) cannot close an interaction of `queue`; None if it can.
        One rule for the desktop and the task API."""
        allowed = [c.code for c in self.codes]
        if code and code not in allowed:
            return f"unknown disposition {code!r} for {queue}: one of {', '.join(allowed)}"
        if not code and self.required:
            return f"{queue} needs a disposition: one of {', '.join(allowed)}"
        return None
