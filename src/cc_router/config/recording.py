"""Config for call recording: where files go, how long they are kept.

Which calls are recorded is per queue (`record: true | false | <percent>`); this section
says where Asterisk writes the files and where the router finds them (the same directory,
seen from two places when Asterisk runs in a chroot or on another host with a shared mount).
"""

from __future__ import annotations

from pathlib import PurePosixPath

from pydantic import BaseModel, ConfigDict, Field, field_validator


class RecordingConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dir: str = Field(
        default="/var/spool/asterisk/monitor/cc-router",
        description="Directory the router reads recordings from (plays them back, deletes old ones).",
    )
    asterisk_dir: str | None = Field(
        default=None, description="The same directory as Asterisk sees it; default: `dir`."
    )
    retention_days: float = Field(default=90, gt=0, description="Recordings older than this are deleted.")
    retention_check_s: float = Field(
        default=3600, gt=0, description="How often old recordings are looked for."
    )

    @field_validator("dir", "asterisk_dir")
    @classmethod
    def _absolute(cls, value: str | None) -> str | None:
        if value is not None and not PurePosixPath(value).is_absolute():
            raise ValueError(f"{value!r} must be an absolute path")
        return value

    @property
    def asterisk_path(self) -> str:
        return self.asterisk_dir or self.dir


def record_setting(value: object) -> bool | float:
    """`record:` of a queue: true, false, or the percentage of its connected calls (0-100)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and 0 <= value <= 100:
        return float(value)
    raise ValueError("record must be true, false or a percentage from 0 to 100")
