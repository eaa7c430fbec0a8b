"""What a waiting caller is told, and when: position and expected wait, as people say it.

Pure: the caller's place and expected wait (`cc_router.core.estimate`) come in, a list of
prompts (sound files and numbers to say) goes out. Which files a language uses is a
`PromptSet`; English ships with Asterisk's core sounds (app_queue's own queue-* prompts).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PromptSet:
    """The sound files one language says an announcement with (names without extension,
    as Playback takes them)."""

    language: str
    you_are_next: str = "queue-youarenext"
    there_are: str = "queue-thereare"
    calls_waiting: str = "queue-callswaiting"
    hold_time: str = "queue-holdtime"
    less_than: str = "queue-less-than"
    minute: str = "queue-minute"
    minutes: str = "queue-minutes"
    thank_you: str = "queue-thankyou"
    callback_offer: tuple[str, ...] = ("vm-press", "digits/1", "vm-tocallback")
    """"Press 1 to be called back": said once, after the queue's `offer_after_s`."""


ENGLISH = PromptSet("en")


@dataclass(frozen=True, slots=True)
class AnnouncePolicy:
    position: bool = True
    wait: bool = True
    every_s: float = 60.0
    """Between the starts of two announcements (the first comes on entering)."""
    quiet_within_s: float = 20.0
    """No announcement when the caller is expected to be connected sooner than this."""


@dataclass(frozen=True, slots=True)
class SpokenWait:
    minutes: int
    less_than: bool = False
    """"less than `minutes`" rather than "about `minutes`"."""


@dataclass(frozen=True, slots=True)
class Say:
    """One step of an announcement: a sound file, or a number said in the caller's language."""

    file: str = ""
    number: int | None = None


def spoken_wait(seconds: float) -> SpokenWait:
    """Round a wait the way people say it: "less than a minute", "about 3 minutes",
    "about 15 minutes", "about 45 minutes", "about 90 minutes"."""
    minutes = seconds / 60.0
    if minutes < 0.75:
        return SpokenWait(1, less_than=True)
    if minutes < 10:
        return SpokenWait(max(1, round(minutes)))
    step = 5 if minutes < 30 else 15
    return SpokenWait(int(step * round(minutes / step)))


def next_due(policy: AnnouncePolicy, joined_at: float, last_at: float | None) -> float:
    """When the next announcement starts: on entering, then every `every_s`."""
    return joined_at if last_at is None else last_at + policy.every_s


def compose(
    policy: AnnouncePolicy, position: int | None, ewt_s: float | None, prompts: PromptSet
) -> list[Say]:
    """The announcement for a caller at `position` expecting `ewt_s`; empty when there
    is nothing to say (about to be connected, or neither figure known and wanted)."""
    if ewt_s is not None and ewt_s < policy.quiet_within_s:
        return []
    out: list[Say] = []
    if policy.position and position is not None:
        if position == 1:
            out.append(Say(prompts.you_are_next))
        else:
            out += [Say(prompts.there_are), Say(number=position), Say(prompts.calls_waiting)]
    if policy.wait and ewt_s is not None:
        said = spoken_wait(ewt_s)
        out.append(Say(prompts.hold_time))
        if said.less_than:
            out += [Say(prompts.less_than), Say(number=said.minutes), Say(prompts.minute)]
        else:
            unit = prompts.minute if said.minutes == 1 else prompts.minutes
            out += [Say(number=said.minutes), Say(unit)]
    if out:
        out.append(Say(prompts.thank_you))
    return out


def offer_callback(prompts: PromptSet) -> list[Say]:
    """The callback offer ("press 1 to be called back without losing your place")."""
    return [Say(f) for f in prompts.callback_offer]
