"""Config sections for the waiting caller: announcements, prompt sets, callbacks."""

from __future__ import annotations

import re
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from cc_router.core.announce import AnnouncePolicy, PromptSet
from cc_router.core.callbacks import CallbackPolicy

_HOURS_RE = re.compile(r"^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$")
_FILE_RE = re.compile(r"^[A-Za-z0-9_/.-]+$")
DEFAULT_PROMPT_SET = "en"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AnnounceConfig(_Model):
    """Per queue: what a caller on hold is told, and how often."""

    position: bool = Field(default=True, description="Say the caller's place in the queue.")
    wait: bool = Field(default=True, description="Say the expected wait (never when unknown).")
    every_s: float = Field(
        default=60.0, ge=10, description="Between two announcements (the first on entering)."
    )
    quiet_within_s: float = Field(
        default=20.0, ge=0, description="Nothing is said to a caller expected to be connected sooner."
    )

    def policy(self) -> AnnouncePolicy:
        return AnnouncePolicy(self.position, self.wait, self.every_s, self.quiet_within_s)


def _seconds_of_day(h: str, m: str) -> float:
    hours, minutes = int(h), int(m)
    if not (0 <= hours <= 24 and 0 <= minutes < 60) or (hours == 24 and minutes):
        raise ValueError("hours run from 00:00 to 24:00")
    return hours * 3600.0 + minutes * 60.0


class CallbackConfig(_Model):
    """Per queue: callbacks that keep the caller's place."""

    attempts: int = Field(default=3, ge=1, le=20, description="Tries to reach the customer.")
    gap_s: float = Field(default=300.0, ge=0, description="Between the end of one try and the next.")
    window: str = Field(
        default="08:00-20:00",
        description="Local hours (centre.timezone) in which customers are called; 00:00-00:00 all day.",
    )
    offer_after_s: float | None = Field(
        default=None, gt=0, description="Offer 'press 1 to be called back' after this long on hold."
    )
    ring_s: float = Field(default=30.0, gt=0, le=300, description="How long the customer's phone rings.")

    @field_validator("window")
    @classmethod
    def _hours(cls, v: str) -> str:
        m = _HOURS_RE.match(v.strip())
        if m is None:
            raise ValueError(f"window {v!r}: write local hours as HH:MM-HH:MM, e.g. 08:00-20:00")
        _seconds_of_day(m[1], m[2])
        _seconds_of_day(m[3], m[4])
        return v.strip()

    def policy(self) -> CallbackPolicy:
        m = _HOURS_RE.match(self.window)
        assert m is not None  # checked above
        return CallbackPolicy(
            attempts=self.attempts,
            gap_s=self.gap_s,
            window_start_s=_seconds_of_day(m[1], m[2]),
            window_end_s=_seconds_of_day(m[3], m[4]),
            offer_after_s=self.offer_after_s,
        )


_EN = PromptSet(language="en")


class PromptSetConfig(_Model):
    """The sound files one language is announced with (names as Playback takes them)."""

    sound_language: str = Field(
        default="en", min_length=1, description="CHANNEL(language) while announcing: numbers are said in it."
    )
    # Defaults are the core's English prompt set, named once there.
    you_are_next: str = _EN.you_are_next
    there_are: str = _EN.there_are
    calls_waiting: str = _EN.calls_waiting
    hold_time: str = _EN.hold_time
    less_than: str = _EN.less_than
    minute: str = _EN.minute
    minutes: str = _EN.minutes
    thank_you: str = _EN.thank_you
    callback_offer: list[str] = Field(
        default_factory=lambda: list(_EN.callback_offer),
        description="Said once after offer_after_s: press 1 to be called back without losing your place.",
    )

    @model_validator(mode="after")
    def _file_names(self) -> Self:
        for name, value in self.model_dump().items():
            if name == "sound_language":
                continue
            for f in value if isinstance(value, list) else [value]:
                if not _FILE_RE.match(f):
                    raise ValueError(f"{name}: {f!r} is not a sound file name (letters, digits, _ - . /)")
        return self

    def prompts(self) -> PromptSet:
        return PromptSet(
            language=self.sound_language,
            you_are_next=self.you_are_next,
            there_are=self.there_are,
            calls_waiting=self.calls_waiting,
            hold_time=self.hold_time,
            less_than=self.less_than,
            minute=self.minute,
            minutes=self.minutes,
            thank_you=self.thank_you,
            callback_offer=tuple(self.callback_offer),
        )


class AnnouncementsConfig(_Model):
    """Which prompt set a caller's language (CCR_LANG) is announced with."""

    prompt_sets: dict[str, PromptSetConfig] = Field(
        default_factory=lambda: {DEFAULT_PROMPT_SET: PromptSetConfig()},
        description="Name -> sound files; `en` (Asterisk's core sounds) is there unless replaced.",
    )
    languages: dict[str, str] = Field(
        default_factory=dict,
        description="CCR_LANG -> prompt set; a language without an entry uses the set of its own "
        "name if there is one, else `default`.",
    )
    default: str = Field(default=DEFAULT_PROMPT_SET, description="Prompt set of any other language.")

    @model_validator(mode="after")
    def _sets_exist(self) -> Self:
        sets = self.all_sets()
        missing = sorted({s for s in [*self.languages.values(), self.default] if s not in sets})
        if missing:
            raise ValueError(f"unknown prompt set {', '.join(missing)} (not under prompt_sets)")
        return self

    def all_sets(self) -> dict[str, PromptSetConfig]:
        return {DEFAULT_PROMPT_SET: PromptSetConfig(), **self.prompt_sets}

    def prompts_for(self, language: str) -> PromptSet:
        sets = self.all_sets()
        name = self.languages.get(language) or (language if language in sets else self.default)
        return sets[name].prompts()


class CallbacksConfig(_Model):
    """How a callback dials the customer, from the node the caller came in on."""

    dial: str = Field(
        default="PJSIP/{number}@trunk",
        description="Dial string of the outbound trunk; {number} is the caller's number.",
    )
    dial_by_node: dict[str, str] = Field(default_factory=dict, description="Node name -> dial string.")
    key: str = Field(default="1", pattern=r"^[0-9*#]$", description="The key a caller presses to ask.")

    @field_validator("dial")
    @classmethod
    def _has_number(cls, v: str) -> str:
        if "{number}" not in v:
            raise ValueError(f"dial {v!r} must contain {{number}}")
        return v

    def dial_for(self, node: str, number: str) -> str:
        return self.dial_by_node.get(node, self.dial).replace("{number}", number)
